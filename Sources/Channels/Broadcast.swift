/// A multi-producer, multi-consumer broadcast queue. Each sent value is seen
/// by all receivers.
///
/// A ``BroadcastSender`` broadcasts values to **all** connected
/// ``BroadcastReceiver``s. Sender handles can be cloned (``BroadcastSender/clone()``);
/// every handle of both kinds is `Sendable`. A value is stored once in the
/// channel and copied (for a class: retained) for each receiver on demand; once
/// every receiver has read it, or it is overwritten, the channel releases it.
/// A channel never holds more than its capacity of values, whatever the
/// receivers do.
///
/// New receivers come from ``BroadcastSender/subscribe()`` or
/// ``BroadcastReceiver/resubscribe()``; a new receiver sees only values sent
/// **after** it subscribed.
///
/// ## Lagging
///
/// Values are retained until every receiver has read them, so a slow receiver
/// would make the channel grow. Instead the channel has a hard bound, its
/// capacity (rounded up to a power of two). When a value is sent into a full
/// ring, the oldest value is overwritten. A receiver that had not read it gets
/// ``BroadcastRecvError/lagged(_:)`` with exactly the number of values it
/// missed on its next read, and its cursor moves to the oldest value still
/// held, which the following read returns. The receiver stays subscribed and
/// may lag again.
///
/// ## Closing
///
/// When every ``BroadcastSender`` handle is closed (``BroadcastSender/close()``
/// or deinit), no new values can be sent: the channel is closed. A receiver
/// first gets everything still held for it (after a `lagged` if it was
/// overrun), then ``BroadcastRecvError/closed``.
///
/// ## Differences from tokio
///
/// `send` with no receiver returns 0 instead of an error; `recv` in a cancelled
/// task throws ``BroadcastRecvError/cancelled``; non-async consumers get
/// ``BroadcastReceiver/armWaker(_:)`` and ``BroadcastReceiver/readBatch(into:)``.
///
/// ## Example
///
/// (Also the test `moduleDocExampleWorks` in `BroadcastTests.swift`.)
///
/// ```swift
/// let (tx, rx1) = try Broadcast.channel(of: Int.self, capacity: 16)
/// let rx2 = tx.subscribe()
/// tx.send(10)
/// tx.send(20)
/// #expect(try await rx1.recv() == 10)
/// #expect(try await rx2.recv() == 10)
/// #expect(try await rx1.recv() == 20)
/// #expect(try await rx2.recv() == 20)
///
/// // Handling lag: capacity 2, three sends, the receiver missed one value.
/// let (tx2, rx) = try Broadcast.channel(of: Int.self, capacity: 2)
/// tx2.send(10)
/// tx2.send(20)
/// tx2.send(30)
/// await #expect(throws: BroadcastRecvError.lagged(1)) { try await rx.recv() }
/// #expect(try await rx.recv() == 20)
/// #expect(try await rx.recv() == 30)
/// tx2.close()
/// await #expect(throws: BroadcastRecvError.closed) { try await rx.recv() }
/// ```
public enum Broadcast {
    /// The largest capacity accepted (after rounding up to a power of two).
    public static let maxCapacity = 1 << 30

    /// Creates a broadcast channel holding at most `capacity` values (rounded
    /// up to a power of two), and its first receiver. Any thread may call it.
    ///
    /// - Throws: ``BroadcastChannelError/invalidCapacity(_:)`` if `capacity`
    ///   is below 1 or above ``maxCapacity``.
    public static func channel<T: Sendable>(
        of: T.Type = T.self, capacity: Int
    ) throws(BroadcastChannelError) -> (BroadcastSender<T>, BroadcastReceiver<T>) {
        guard capacity >= 1, capacity <= maxCapacity else { throw .invalidCapacity(capacity) }
        var c = 1
        while c < capacity { c <<= 1 }
        let shared = BroadcastShared<T>.make(capacity: c)
        let rx = BroadcastReceiver(shared: shared)
        return (BroadcastSender(shared: shared), rx)
    }
}
