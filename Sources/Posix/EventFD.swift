// A cross-thread wake-up for an event loop: an eventfd that another thread writes.
import CBrokerShim
import Glibc

/// An eventfd used as a doorbell: any thread may ``signal()``, the owning loop
/// ``drain()``s it when epoll reports it readable. The descriptor lives as long
/// as the object (a class, so the ringing threads can share it).
public final class EventFD: Sendable {
    /// The eventfd, non-blocking.
    let descriptor: FileDescriptor

    public init() throws(SystemError) {
        descriptor = FileDescriptor(adopting: try Syscall.blocking("eventfd") { eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC)) })
    }

    /// The descriptor to register with epoll; valid until the object is released.
    public var fd: Int32 { descriptor.rawValue }

    /// Rings the doorbell. Any thread. A full counter (`.wouldBlock`) still means "ringing".
    public func signal() {
        var one: UInt64 = 1
        _ = try? withUnsafeBytes(of: &one) { bytes throws(SystemError) in try descriptor.write(bytes, call: "write(eventfd)") }
    }

    /// Resets the doorbell. Loop thread only. Nothing to read (`.wouldBlock`) is fine.
    public func drain() {
        var value: UInt64 = 0
        _ = try? withUnsafeMutableBytes(of: &value) { bytes throws(SystemError) in try descriptor.read(into: bytes, call: "read(eventfd)") }
    }
}
