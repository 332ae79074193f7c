// A thin wrapper over one epoll instance (level-triggered), owned by one event loop.
import CBrokerShim
import Glibc

/// One epoll instance. Registrations carry a 64-bit token chosen by the caller.
///
/// Loop thread only, except `close`, which happens once when the loop ends.
struct Epoll: ~Copyable {
    /// The epoll descriptor.
    let fd: Int32

    init() throws(SystemError) {
        fd = try retryingEINTR("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
    }

    deinit { _ = Glibc.close(fd) }

    /// Starts watching `descriptor` for `events` (EPOLLIN, EPOLLOUT, ...).
    func add(_ descriptor: Int32, events: UInt32, token: UInt64) throws(SystemError) {
        try control(EPOLL_CTL_ADD, descriptor, events: events, token: token)
    }

    /// Changes what `descriptor` is watched for.
    func modify(_ descriptor: Int32, events: UInt32, token: UInt64) throws(SystemError) {
        try control(EPOLL_CTL_MOD, descriptor, events: events, token: token)
    }

    /// Stops watching `descriptor` (closing it does that too).
    func remove(_ descriptor: Int32) {
        var event = epoll_event()
        _ = epoll_ctl(fd, EPOLL_CTL_DEL, descriptor, &event)
    }

    /// Waits up to `timeoutMs` (-1 = forever) and fills `events`; returns how many are ready.
    func wait(into events: UnsafeMutableBufferPointer<epoll_event>, timeoutMs: Int32) throws(SystemError) -> Int {
        let count = epoll_wait(fd, events.baseAddress, Int32(events.count), timeoutMs)
        if count >= 0 { return Int(count) }
        let code = cbroker_errno()
        if code == EINTR { return 0 }
        throw SystemError("epoll_wait", errno: code)
    }

    private func control(_ operation: Int32, _ descriptor: Int32, events: UInt32, token: UInt64) throws(SystemError) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = token
        _ = try retryingEINTR("epoll_ctl") { epoll_ctl(fd, operation, descriptor, &event) }
    }
}

/// The epoll event bits as UInt32, for readability at the call sites.
enum EpollBits {
    static let readable = UInt32(EPOLLIN.rawValue)
    static let writable = UInt32(EPOLLOUT.rawValue)
    static let hangup = UInt32(EPOLLHUP.rawValue)
    static let error = UInt32(EPOLLERR.rawValue)
    static let readHangup = UInt32(EPOLLRDHUP.rawValue)
}
