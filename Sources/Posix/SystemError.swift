// The one error of the system layer: which call failed, with which errno, and the system's text for it.
import CBrokerShim

/// A failed system call: which call, and the errno it left.
///
/// A value (any thread). Its description uses the system's error text, read
/// with `strerror_r` (thread-safe, unlike `strerror`), so a user sees the
/// familiar message, for example `bind: Address already in use`.
public struct SystemError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The name of the call, as in the man pages (`bind`, `epoll_wait`).
    public let call: String
    /// The errno value.
    public let errno: Int32

    public init(_ call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    /// The system's text for the errno (`Connection refused`).
    public var reason: String { SystemError.text(errno: errno) }

    /// `call: reason`, e.g. `connect: Connection refused`.
    public var description: String { "\(call): \(reason)" }

    /// The system's text for an errno value (`Connection refused`; `Unknown error 4242`
    /// for a number it does not know). Any thread: `strerror_r` into a buffer of the
    /// caller's stack, never `strerror`'s shared one.
    public static func text(errno code: Int32) -> String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { buffer in
            guard let base = buffer.baseAddress else { return "Unknown error \(code)" }
            base.initialize(to: 0)
            return String(cString: cbroker_strerror(code, base, buffer.count))
        }
    }
}
