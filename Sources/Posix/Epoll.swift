// A thin wrapper over one epoll instance (level-triggered), owned by one event loop.
import CBrokerShim
import Glibc

/// One epoll instance, closed when the value goes. Registrations carry a 64-bit
/// token chosen by the caller (store a generation beside the descriptor in it to
/// recognise stale events for a reused descriptor number).
///
/// Owned by one loop thread; every method is for that thread.
public struct Epoll: ~Copyable {
    /// The epoll instance.
    let descriptor: FileDescriptor

    public init() throws(SystemError) {
        descriptor = FileDescriptor(adopting: try Syscall.blocking("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) })
    }

    /// The epoll descriptor, valid while this value lives.
    public var fd: Int32 { descriptor.rawValue }

    /// Starts watching `watched` for `events` (``EpollBits``).
    public func add(_ watched: Int32, events: UInt32, token: UInt64) throws(SystemError) {
        try control(EPOLL_CTL_ADD, watched, events: events, token: token)
    }

    /// Changes what `watched` is watched for.
    public func modify(_ watched: Int32, events: UInt32, token: UInt64) throws(SystemError) {
        try control(EPOLL_CTL_MOD, watched, events: events, token: token)
    }

    /// Stops watching `watched` (closing it does that too). A descriptor that was not
    /// registered (`ENOENT`) is no error; a closed one traps (see ``Syscall``).
    public func remove(_ watched: Int32) {
        var event = epoll_event()
        _ = try? Syscall.blocking("epoll_ctl(EPOLL_CTL_DEL)") { epoll_ctl(fd, EPOLL_CTL_DEL, watched, &event) }
    }

    /// Waits up to `timeoutMs` (-1 = forever, 0 = just look) and fills `events`;
    /// returns how many are ready. A wait interrupted by a signal returns 0 rather
    /// than starting over, so the loop re-reads its timers before waiting again.
    public func wait(into events: UnsafeMutableBufferPointer<epoll_event>, timeoutMs: Int32) throws(SystemError) -> Int {
        let count = try Syscall.blocking("epoll_wait") {
            let count = epoll_wait(fd, events.baseAddress, Int32(events.count), timeoutMs)
            return count < 0 && cbroker_errno() == EINTR ? 0 : count
        }
        return Int(count)
    }

    private func control(_ operation: Int32, _ watched: Int32, events: UInt32, token: UInt64) throws(SystemError) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = token
        _ = try Syscall.blocking("epoll_ctl") { epoll_ctl(fd, operation, watched, &event) }
    }
}

/// The epoll event bits as UInt32, for readability at the call sites. Constants.
public enum EpollBits {
    public static let readable = UInt32(EPOLLIN.rawValue)
    public static let writable = UInt32(EPOLLOUT.rawValue)
    public static let hangup = UInt32(EPOLLHUP.rawValue)
    public static let error = UInt32(EPOLLERR.rawValue)
    public static let readHangup = UInt32(EPOLLRDHUP.rawValue)
}
