// Waiting for one socket to become readable or writable, with a deadline: poll(2).
import CBrokerShim
import Glibc

/// The readiness bits of `poll(2)`. A value.
public struct PollEvents: OptionSet, Sendable, Hashable {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }

    /// Data can be read (or end of file).
    public static let readable = PollEvents(rawValue: Int16(POLLIN))
    /// Data can be written.
    public static let writable = PollEvents(rawValue: Int16(POLLOUT))
    /// An error is pending on the socket (reported whether asked for or not).
    public static let error = PollEvents(rawValue: Int16(POLLERR))
    /// The peer hung up (reported whether asked for or not).
    public static let hangup = PollEvents(rawValue: Int16(POLLHUP))
}

extension SocketHandle {
    /// Waits until the socket is ready for `events` or `deadline` passes (nil: no
    /// deadline); returns what is ready, empty when the deadline passed first.
    /// A deadline already past still looks once without waiting. The thread that
    /// reads (or writes) the socket.
    public func poll(for events: PollEvents, until deadline: ContinuousClock.Instant?) throws(SystemError) -> PollEvents {
        var entry = pollfd(fd: fd, events: events.rawValue, revents: 0)
        // The timeout is worked out on every try, so a retry after EINTR waits only what is left.
        let ready = try Syscall.blocking("poll") { Glibc.poll(&entry, 1, SocketHandle.milliseconds(until: deadline)) }
        return ready == 0 ? [] : PollEvents(rawValue: entry.revents)
    }

    /// `poll`'s timeout for `deadline`: -1 for none, else the time left rounded up
    /// to whole milliseconds (so a wait never ends just short of its deadline), 0 once past.
    static func milliseconds(until deadline: ContinuousClock.Instant?) -> Int32 {
        guard let deadline else { return -1 }
        let left = ContinuousClock.now.duration(to: deadline)
        if left <= .zero { return 0 }
        let (seconds, attoseconds) = left.components
        let (milliseconds, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return Int32.max }
        return Int32(clamping: milliseconds + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
    }
}
