import Locks

/// The locked state of an mpsc channel.
@usableFromInline
struct MpscState<T: Sendable>: Sendable {
    /// The values sent and not yet received, in order.
    @usableFromInline var buffer: RingBuffer<T>
    /// Maximum number of buffered values (`Int.max` when unbounded).
    @usableFromInline let bound: Int
    /// Blocked senders are woken (all of them) once the buffer has drained to
    /// this many values: half the bound. Waking per freed slot would make
    /// every message of a saturated channel cost a park and a wake-up; with
    /// this hysteresis each woken sender gets a run of free slots.
    @inlinable
    var lowWater: Int { bound - max(1, bound / 2) }
    /// Open sender handles; when it reaches 0 the receiver drains, then gets nil.
    @usableFromInline var senderCount = 1
    /// Set by the receiver's `close()` or deinit: no more sends accepted.
    @usableFromInline var closed = false
    /// The single consumer's parked task or armed waker.
    @usableFromInline var rxWaiter: Waiter = .none
    /// Senders suspended because the channel was full, FIFO.
    @usableFromInline var sendWaiters = WaiterList()

    /// True when nothing is buffered and nothing can arrive any more.
    @inlinable
    var finished: Bool { buffer.isEmpty && (closed || senderCount == 0) }

    /// Pops one value; the flag says blocked senders must now be woken
    /// (the buffer reached ``lowWater`` and someone waits).
    @inlinable @inline(__always)
    mutating func pop() -> (T?, Bool) {
        guard let v = buffer.popFirst() else { return (nil, false) }
        return (v, !sendWaiters.isMainEmpty && buffer.count <= lowWater)
    }
}

/// Outcome of one push attempt under the lock.
@usableFromInline
enum MpscPush {
    case sent(Waiter)
    case full
    case closed
}

/// Storage shared by the handles of one mpsc channel. All mutable state is in
/// the `PthreadLock`, so it is `Sendable` without `@unchecked` of its own.
/// The send and receive paths are inlinable (specialized in the caller's module).
@usableFromInline
final class MpscShared<T: Sendable>: Sendable {
    /// Every mutable field of the channel, behind one mutex.
    @usableFromInline let state: PthreadLock<MpscState<T>>

    init(bound: Int) {
        state = PthreadLock(MpscState(buffer: RingBuffer(reserving: bound == .max ? 16 : bound), bound: bound))
    }

    deinit {
        state.withLock { s in
            s.sendWaiters.destroy()
            s.buffer.destroy()
        }
    }

    @inlinable @inline(__always)
    func tryPush(_ value: T) -> MpscPush {
        state.withLock { s -> MpscPush in
            if s.closed { return .closed }
            if s.buffer.count >= s.bound { return .full }
            s.buffer.append(value)
            let w = s.rxWaiter
            s.rxWaiter = .none
            return .sent(w)
        }
    }

    /// Bounded send's slow path, after a push found the channel full: waits
    /// (suspends) until there is room, the channel closes, or cancellation.
    @inlinable
    nonisolated(nonsending) func sendWhenFull(_ value: T) async throws(MpscSendError<T>) {
        let id = state.withLock { $0.sendWaiters.allocate() }
        defer {
            let w = state.withLock { s -> Waiter in
                let w = s.sendWaiters.unpark(id)
                s.sendWaiters.free(id)
                return w
            }
            _ = w
        }
        while true {
            await parkSender(id)
            switch tryPush(value) {
            case .sent(let w): w.fire(); return
            case .closed: throw .closed(value)
            case .full:
                if Task.isCancelled { throw .cancelled(value) }
            }
        }
    }

    /// Suspends until the receiver frees a slot, the channel closes, or the task
    /// is cancelled. A woken sender always retries its push first, so a wake-up
    /// is never lost (if the room was taken by a newer sender, it parks again).
    @inlinable
    nonisolated(nonsending) func parkSender(_ id: Int32) async {
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (c: UnsafeContinuation<Void, Never>) in
                let parked = state.withLock { s -> Bool in
                    if s.closed || s.buffer.count < s.bound || Task.isCancelled { return false }
                    s.sendWaiters.park(id, .task(c))
                    return true
                }
                if !parked { c.resume() }
            }
        } onCancel: {
            // If this runs late, after `id` was freed and reused, it wakes another
            // sender spuriously; that sender just retries and parks again.
            let w = state.withLock { $0.sendWaiters.unpark(id) }
            w.fire()
        }
    }

    func addSender() -> Bool {
        state.withLock { s in
            if s.closed || s.senderCount == 0 { return false }
            s.senderCount += 1
            return true
        }
    }

    func releaseSender() {
        let w = state.withLock { s -> Waiter in
            s.senderCount -= 1
            if s.senderCount > 0 { return .none }
            let w = s.rxWaiter
            s.rxWaiter = .none
            return w
        }
        w.fire()
    }

    /// Closes the receiving side: later sends fail, blocked senders wake.
    func closeReceiver() {
        wakeSenders(closing: true)
    }

    /// Wakes every blocked sender, in batches with the lock released between
    /// them (each woken sender retries its push).
    @inlinable
    func wakeSenders(closing: Bool = false) {
        withUnsafeTemporaryAllocation(of: Waiter.self, capacity: wakeBatchSize) { buf in
            var more = true
            while more {
                let n = state.withLock { s -> Int in
                    if closing { s.closed = true }
                    let n = s.sendWaiters.pop(from: 0, into: buf)
                    more = !s.sendWaiters.isMainEmpty
                    return n
                }
                fireAndClear(buf, n)
            }
        }
    }
}
