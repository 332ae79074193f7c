// A cross-thread wake-up for an event loop: an eventfd that another thread writes.
import CBrokerShim
import Glibc

/// An eventfd used as a doorbell: any thread may `signal`, the owning loop
/// `drain`s it when epoll reports it readable.
final class EventFD: Sendable {
    /// The descriptor; valid until the object is released.
    let fd: Int32

    init() throws(SystemError) {
        fd = try retryingEINTR("eventfd") { eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC)) }
    }

    deinit { _ = Glibc.close(fd) }

    /// Rings the doorbell. Any thread. A full counter (EAGAIN) still means "ringing".
    func signal() {
        var one: UInt64 = 1
        while true {
            let written = Glibc.write(fd, &one, 8)
            if written >= 0 || cbroker_errno() != EINTR { return }
        }
    }

    /// Resets the doorbell. Loop thread only.
    func drain() {
        var value: UInt64 = 0
        while true {
            let read = Glibc.read(fd, &value, 8)
            if read >= 0 || cbroker_errno() != EINTR { return }
        }
    }
}
