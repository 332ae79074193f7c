// The receiving half of a broadcast channel.
import Locks

/// The receiving half of a broadcast channel: one cursor into the ring.
///
/// `Sendable` so it can be stored anywhere and moved between tasks and
/// threads, but it is a single consumer: call its methods from one task or
/// thread at a time (concurrent calls are memory-safe, because all state is
/// behind the channel lock, but they would split the values between callers
/// and a receiver has only one parking place). Deinitializing a receiver
/// releases its claim on every value it had not read.
public final class BroadcastReceiver<T: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: its fields are `let`s, and the channel they refer to is
    // reached only under its lock (``BroadcastShared``'s invariant).
    /// The channel.
    @usableFromInline let shared: BroadcastShared<T>
    /// This receiver's node in the channel's waiter slab (holds its cursor).
    @usableFromInline let id: Int32

    init(shared: BroadcastShared<T>) {
        self.shared = shared
        self.id = shared.addReceiver()
    }

    @usableFromInline
    init(shared: BroadcastShared<T>, start: BroadcastStart, tail: inout UInt64) {
        self.shared = shared
        self.id = shared.addReceiver(start, tail: &tail)
    }

    /// The position of the next value this receiver reads.
    public var position: UInt64 { shared.withLock { $0.waiters.nodes[Int(id)].cursor } }

    deinit { shared.removeReceiver(id) }

    /// Returns the next value, waiting for one if needed.
    ///
    /// Throws ``BroadcastRecvError/lagged(_:)`` once when values owed to this
    /// receiver were overwritten (the next call returns the oldest value still
    /// held), ``BroadcastRecvError/closed`` when every sender is gone and
    /// everything held was read, and ``BroadcastRecvError/cancelled`` when the
    /// task is cancelled while nothing is available. Cancellation leaves no
    /// waiter behind and consumes nothing: a value available at the same time
    /// is returned rather than dropped.
    @inlinable @inline(__always)
    nonisolated(nonsending) public func recv() async throws(BroadcastRecvError) -> T {
        while true {
            switch shared.withLock({ $0.read(id) }) {
            case .value(let v): return v
            case .lagged(let n): throw .lagged(n)
            case .closed: throw .closed
            case .empty: break
            }
            if Task.isCancelled { throw .cancelled }
            await park()
        }
    }

    /// Suspends until a send or close after this point, or cancellation.
    @inlinable
    nonisolated(nonsending) func park() async {
        let shared = self.shared, id = self.id
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (c: UnsafeContinuation<Void, Never>) in
                let parked = shared.withLock { s -> Bool in
                    let cursor = s.waiters.nodes[Int(id)].cursor
                    // Checked under the lock: a cancellation handler that ran
                    // before this point found nothing to resume.
                    if cursor != s.tail || s.closed || Task.isCancelled { return false }
                    s.waiters.park(id, .task(c))
                    return true
                }
                if !parked { c.resume() }
            }
        } onCancel: {
            let w = self.shared.withLock { $0.waiters.unpark(self.id) }
            w.fire()
        }
    }

    /// Returns the next value if one is available, without waiting.
    @inlinable
    public func tryRecv() throws(BroadcastTryRecvError) -> T {
        switch shared.withLock({ $0.read(id) }) {
        case .value(let v): return v
        case .lagged(let n): throw .lagged(n)
        case .closed: throw .closed
        case .empty: throw .empty
        }
    }

    /// Values sent since this receiver's cursor: tail − cursor. More than the
    /// capacity means the receiver lagged (the next read reports it).
    @inlinable
    public var pendingCount: Int {
        shared.withLock { s in Int(truncatingIfNeeded: s.tail &- s.waiters.nodes[Int(id)].cursor) }
    }

    /// A new receiver on the same channel that sees only values sent after
    /// this call (like ``BroadcastSender/subscribe()``). On a closed channel the
    /// new receiver reports ``BroadcastRecvError/closed`` at once.
    public func resubscribe() -> BroadcastReceiver<T> {
        BroadcastReceiver(shared: shared)
    }

    /// Parked waiters of the whole channel (tests check that cancellation and
    /// disarming leave none behind).
    var channelParkedCount: Int { shared.parkedCount }
}
