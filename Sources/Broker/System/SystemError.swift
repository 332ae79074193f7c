// The one funnel for errno: a typed error and a helper that retries EINTR.
import CBrokerShim
import Glibc

/// A failed system call: which call, and the errno it left.
///
/// Its description uses the system's error text (`strerror`), so a user sees
/// the familiar message, for example `bind: Address already in use`.
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
    public var reason: String { String(cString: strerror(errno)) }
    public var description: String { "\(call): \(reason)" }
}

/// The result of a call on a non-blocking descriptor.
public enum IOResult<Value> {
    /// The call did (part of) its work.
    case done(Value)
    /// The call would block (EAGAIN/EWOULDBLOCK): wait for readiness.
    case wouldBlock
}

/// Runs a system call that returns -1 and sets errno on failure, retrying EINTR.
@inline(__always)
func retryingEINTR<T: BinaryInteger>(_ call: String, _ body: () -> T) throws(SystemError) -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = cbroker_errno()
        if code == EINTR { continue }
        throw SystemError(call, errno: code)
    }
}

/// Like ``retryingEINTR(_:_:)`` for a non-blocking descriptor: EAGAIN becomes `.wouldBlock`.
@inline(__always)
func nonBlocking<T: BinaryInteger>(_ call: String, _ body: () -> T) throws(SystemError) -> IOResult<T> {
    while true {
        let result = body()
        if result >= 0 { return .done(result) }
        let code = cbroker_errno()
        if code == EINTR { continue }
        if code == EAGAIN || code == EWOULDBLOCK { return .wouldBlock }
        throw SystemError(call, errno: code)
    }
}
