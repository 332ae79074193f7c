// A broadcast receiver for non-async consumers: armed wakers and batched reads (the event loop's hot path).
import Locks

/// The result of one ``BroadcastReceiver/readBatch(into:)`` call.
///
/// Exactly one of these holds: `lagged > 0` (and `count == 0`); `count > 0`;
/// `closed` (nothing left, ever); or all zero/false (nothing available now).
@frozen
public struct BroadcastBatch: Sendable, Equatable {
    /// Values this receiver was owed that were overwritten (0 if none).
    public var lagged: UInt64
    /// Number of values written to the front of the buffer.
    public var count: Int
    /// True when every sender is gone and this receiver has read everything.
    public var closed: Bool
    /// True when ``BroadcastReceiver/readBatch(upTo:armingWhenDrained:reserve:)``
    /// read everything available and armed its waker (always false elsewhere).
    public var armed: Bool

    @inlinable
    public init(lagged: UInt64 = 0, count: Int = 0, closed: Bool = false, armed: Bool = false) {
        self.lagged = lagged
        self.count = count
        self.closed = closed
        self.armed = armed
    }
}

extension BroadcastReceiver {
    /// Arms a one-shot wake-up for a non-async consumer (an event-loop thread).
    ///
    /// If values (or lag, or close) are already available, returns false and
    /// arms nothing: read first. Otherwise registers `waker` and returns true.
    /// The next send (or close) disarms it and calls `waker.wake()` once, after
    /// the channel lock is released. Arming again while armed replaces the
    /// waker. No allocation once the channel's waiter slab has grown.
    @inlinable
    public func armWaker(_ waker: any BroadcastWaker) -> Bool {
        let (armed, old) = shared.withLock { s -> (Bool, Waiter) in
            if s.waiters.nodes[Int(id)].cursor != s.tail || s.closed { return (false, .none) }
            return (true, s.waiters.park(id, .waker(waker)))
        }
        _ = old  // a replaced waker is released outside the lock, not fired
        return armed
    }

    /// Cancels a pending ``armWaker(_:)`` (no-op if none or already fired).
    @inlinable
    public func disarmWaker() {
        let old = shared.withLock { $0.waiters.unpark(id) }
        _ = old
    }

    /// Reads many values in ONE lock acquisition.
    ///
    /// If the receiver was overrun, reports only the lag (and moves the cursor
    /// to the oldest value held, as `recv()` would); the values follow in the
    /// next call, so a caller can write LAGGED before the next MSG. Otherwise
    /// copies up to `buffer.count` available values into the front of
    /// `buffer`, advancing the cursor and releasing each slot's claim.
    ///
    /// An empty `buffer` reads nothing (only lag or close are reported).
    /// `buffer` must be fully initialized; its slots are overwritten by
    /// assignment (the previous contents are released, inside the lock, so a
    /// caller that wants the lock held for the shortest time clears them
    /// first). Each value costs one retain for a class `T`, except for the
    /// last receiver to read a slot, which takes the value by move (no
    /// refcount operation) and so releases the slot at once.
    @inlinable
    public func readBatch(into buffer: UnsafeMutableBufferPointer<T>) -> BroadcastBatch {
        readBatch(limit: buffer.count) { k, value in buffer[k] = value }
    }

    /// ``readBatch(into:)`` for memory that holds no values yet: the values are
    /// initialized into the front of `buffer` (nothing is released), and the
    /// caller owns them (deinitializes them) afterwards. This is the server's
    /// hot path: one retain per value read, and one release when it is written.
    @inlinable
    public func readBatch(intoUninitialized buffer: UnsafeMutableBufferPointer<T>) -> BroadcastBatch {
        guard let base = buffer.baseAddress else { return readBatch(limit: 0) { _, _ in } }
        return readBatch(limit: buffer.count) { k, value in (base + k).initialize(to: value) }
    }

    /// Reads and re-arms in ONE lock acquisition: the event loop's hot path.
    ///
    /// Like ``readBatch(intoUninitialized:)`` for up to `limit` values, except
    /// that the room is asked for only once the count is known: `reserve(n)` is
    /// called inside the lock, at most once, with `1 ≤ n ≤ limit`, and must
    /// return uninitialized room for at least `n` values (it must not use this
    /// channel). When the read leaves nothing available and the channel is
    /// open, `waker` is armed as by ``armWaker(_:)`` and `armed` is true: no
    /// value can slip in between the read and the arming, and the next send
    /// calls `waker.wake()` (a batch of exactly `limit` that empties the
    /// receiver arms too). After a lag report, a batch stopped by `limit` with
    /// more available, or `closed`, nothing is armed.
    @inlinable
    public func readBatch(
        upTo limit: Int, armingWhenDrained waker: any BroadcastWaker,
        reserve: (Int) -> UnsafeMutableBufferPointer<T>
    ) -> BroadcastBatch {
        readBatch(upTo: limit, armingWhenDrained: waker) { count, _ in reserve(count) }
    }

    /// ``readBatch(upTo:armingWhenDrained:reserve:)`` that also tells `reserve` the
    /// position of the first value of the batch (the others follow one by one).
    @inlinable
    public func readBatch(
        upTo limit: Int, armingWhenDrained waker: any BroadcastWaker,
        reserve: (_ count: Int, _ firstPosition: UInt64) -> UnsafeMutableBufferPointer<T>
    ) -> BroadcastBatch {
        readAndArm(upTo: limit, armingWhenDrained: waker, reserve: reserve, finishes: false, finish: { _, _ in })
    }

    /// ``readBatch(upTo:armingWhenDrained:reserve:)`` with the position of the batch's
    /// first value, and a step run once per value, while the lock is still held.
    ///
    /// `finish(values, firstPosition)` is called inside the channel's lock with runs of
    /// the values this read initialized (at most two runs, never an empty one) that no
    /// earlier read of this channel gave to a `finish`: the channel remembers one interval
    /// of finished positions, so readers that keep up together finish each value once
    /// and skip it after that, without looking at it. (A value may be finished again only
    /// when it lies outside that interval: older than it, or past a gap.) Reads through
    /// the methods without `finish` neither call nor record anything.
    ///
    /// Every receiver reads a slot under that same lock, so a change `finish` makes to
    /// what a value refers to (say, a form of it made on first need and kept inside it)
    /// is ordered before every later receiver's read of that value: no atomics are needed
    /// to publish it, as long as it is only ever written there and written idempotently.
    /// `finish` must be short and must not use this channel.
    @inlinable
    public func readBatch(
        upTo limit: Int, armingWhenDrained waker: any BroadcastWaker,
        reserve: (_ count: Int, _ firstPosition: UInt64) -> UnsafeMutableBufferPointer<T>,
        finish: (_ read: UnsafeMutableBufferPointer<T>, _ firstPosition: UInt64) -> Void
    ) -> BroadcastBatch {
        readAndArm(upTo: limit, armingWhenDrained: waker, reserve: reserve, finishes: true, finish: finish)
    }

    /// Reads in place and re-arms in ONE lock acquisition: each of up to `limit` values
    /// is handed to `visit` with its position, inside the channel's lock, as a pointer
    /// to the value in its slot (never nil there), valid only during that call: nothing
    /// is copied out of the ring (no retain or release per value; `visit` reads in place,
    /// e.g. `value.pointee?.field`, and copies what it needs, or the value itself). `visit` returns false to stop before
    /// a value, which stays unread (then more is available and nothing is armed). The
    /// batch's `count` is how many `visit` took. Lag, arming and `closed` are as in
    /// ``readBatch(upTo:armingWhenDrained:reserve:)``. `visit` must be short and must not
    /// use this channel.
    @inlinable
    public func readBatch(
        upTo limit: Int, armingWhenDrained waker: any BroadcastWaker,
        visit: (_ value: UnsafePointer<T?>, _ position: UInt64) -> Bool
    ) -> BroadcastBatch {
        var replaced = Waiter.none
        let batch = shared.withLock { s -> BroadcastBatch in
            if let missed = s.catchUp(id) { return BroadcastBatch(lagged: missed) }
            let cursor = s.waiters.nodes[Int(id)].cursor
            let n = Int(min(s.tail &- cursor, UInt64(max(0, limit))))
            let p = s.visit(n, for: id, visit)
            if p &- cursor < UInt64(n) { return BroadcastBatch(count: Int(p &- cursor)) }  // stopped by `visit`: more is there
            return s.endRead(id, from: cursor, to: p, arming: waker, replaced: &replaced)
        }
        _ = replaced  // a replaced waker is released outside the lock, not fired
        return batch
    }

    /// The two reads above: `finish` is called (and the finished interval kept) only when `finishes`.
    @inlinable @inline(__always)
    func readAndArm(
        upTo limit: Int, armingWhenDrained waker: any BroadcastWaker,
        reserve: (_ count: Int, _ firstPosition: UInt64) -> UnsafeMutableBufferPointer<T>,
        finishes: Bool, finish: (_ read: UnsafeMutableBufferPointer<T>, _ firstPosition: UInt64) -> Void
    ) -> BroadcastBatch {
        var replaced = Waiter.none
        let batch = shared.withLock { s -> BroadcastBatch in
            if let missed = s.catchUp(id) { return BroadcastBatch(lagged: missed) }
            let cursor = s.waiters.nodes[Int(id)].cursor
            let n = Int(min(s.tail &- cursor, UInt64(max(0, limit))))
            var p = cursor
            if n > 0, let base = reserve(n, cursor).baseAddress {
                p = s.take(n, for: id) { k, value in (base + k).initialize(to: value) }
                if finishes && p != cursor { s.finishOnce(base, from: cursor, through: p, finish) }
            }
            return s.endRead(id, from: cursor, to: p, arming: waker, replaced: &replaced)
        }
        _ = replaced  // a replaced waker is released outside the lock, not fired
        return batch
    }

    @inlinable @inline(__always)
    func readBatch(limit count: Int, _ store: (Int, T) -> Void) -> BroadcastBatch {
        shared.withLock { s -> BroadcastBatch in
            if let missed = s.catchUp(id) { return BroadcastBatch(lagged: missed) }
            let behind = s.tail &- s.waiters.nodes[Int(id)].cursor
            if behind == 0 { return BroadcastBatch(closed: s.closed) }
            let n = Int(min(behind, UInt64(count)))
            let p = s.take(n, for: id, store)
            return BroadcastBatch(count: n, closed: s.closed && p == s.tail)
        }
    }
}
