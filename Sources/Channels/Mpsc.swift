/// Multi-producer, single-consumer FIFO channels (tokio's `sync::mpsc`).
///
/// ``bounded(of:capacity:)`` gives backpressure: ``MpscSender/send(_:)``
/// suspends while `capacity` values are buffered. ``unbounded(of:)`` never
/// blocks a sender. Values from one sender arrive in the order it sent them.
/// ``MpscReceiver/recv()`` returns nil once every sender handle is gone (or the
/// receiver was closed) and the buffer is drained. ``MpscReceiver/close()``
/// stops new sends (they fail and hand the value back) while buffered values
/// can still be received. Any thread may create channels.
public enum Mpsc {
    /// A bounded channel holding at most `capacity` values (at least 1).
    ///
    /// - Throws: ``BroadcastChannelError/invalidCapacity(_:)`` for a capacity
    ///   below 1 or above ``Broadcast/maxCapacity``.
    public static func bounded<T: Sendable>(
        of: T.Type = T.self, capacity: Int
    ) throws(BroadcastChannelError) -> (MpscSender<T>, MpscReceiver<T>) {
        guard capacity >= 1, capacity <= Broadcast.maxCapacity else { throw .invalidCapacity(capacity) }
        let shared = MpscShared<T>(bound: capacity)
        return (MpscSender(shared: shared), MpscReceiver(shared: shared))
    }

    /// An unbounded channel: sends never wait; memory grows with the backlog.
    public static func unbounded<T: Sendable>(of: T.Type = T.self) -> (MpscUnboundedSender<T>, MpscReceiver<T>) {
        let shared = MpscShared<T>(bound: .max)
        return (MpscUnboundedSender(shared: shared), MpscReceiver(shared: shared))
    }
}
