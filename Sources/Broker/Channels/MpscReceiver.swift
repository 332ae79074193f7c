/// The single consuming handle of an mpsc channel.
///
/// `Sendable` so it can move between tasks and threads, but use it from one
/// task or thread at a time (it has one parking place). Deinitializing it
/// closes the channel and releases the buffered values.
public final class MpscReceiver<T: Sendable>: Sendable {
    let shared: MpscShared<T>

    init(shared: MpscShared<T>) { self.shared = shared }

    deinit {
        shared.closeReceiver()
        let rest = shared.state.withLock { $0.buffer.removeAll() }
        _ = rest  // released outside the lock
    }

    /// The next value, waiting if needed; nil once every sender is gone (or the
    /// receiver was closed) and the buffer is drained, or when the task is
    /// cancelled while nothing is buffered (then nothing was consumed and no
    /// waiter is left behind; check `Task.isCancelled` to tell the cases apart).
    public func recv() async -> T? {
        while true {
            let (v, w, done) = shared.state.withLock { s -> (T?, Waiter, Bool) in
                let (v, w) = s.pop()
                return (v, w, v == nil && s.finished)
            }
            if let v {
                w.fire()
                return v
            }
            if done || Task.isCancelled { return nil }
            await park()
        }
    }

    private func park() async {
        let shared = self.shared
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (c: UnsafeContinuation<Void, Never>) in
                let parked = shared.state.withLock { s -> Bool in
                    if !s.buffer.isEmpty || s.finished || Task.isCancelled { return false }
                    s.rxWaiter = .task(c)
                    return true
                }
                if !parked { c.resume() }
            }
        } onCancel: {
            let w = shared.state.withLock { s -> Waiter in
                guard case .task = s.rxWaiter else { return .none }
                let w = s.rxWaiter
                s.rxWaiter = .none
                return w
            }
            w.fire()
        }
    }

    /// The next value if one is buffered, without waiting.
    public func tryRecv() throws(MpscTryRecvError) -> T {
        let (v, w, done) = shared.state.withLock { s -> (T?, Waiter, Bool) in
            let (v, w) = s.pop()
            return (v, w, s.finished)
        }
        w.fire()
        if let v { return v }
        throw done ? .disconnected : .empty
    }

    /// Moves up to `buffer.count` buffered values into the front of `buffer`
    /// (initialized slots are overwritten by assignment) in one lock
    /// acquisition, and wakes as many blocked senders as slots were freed.
    /// Returns how many were moved and whether the channel is finished.
    public func readBatch(into buffer: UnsafeMutableBufferPointer<T>) -> (count: Int, finished: Bool) {
        withUnsafeTemporaryAllocation(of: Waiter.self, capacity: wakeBatchSize) { wake in
            var total = 0
            var finished = false
            while true {
                let (n, woken) = shared.state.withLock { s -> (Int, Int) in
                    var n = 0, woken = 0
                    while total + n < buffer.count, let v = s.buffer.popFirst() {
                        buffer[total + n] = v
                        n += 1
                        if woken < wake.count, !s.sendWaiters.isMainEmpty {
                            wake.initializeElement(at: woken, to: s.sendWaiters.unpark(s.sendWaiters.nodes[0].next))
                            woken += 1
                        }
                        if woken == wake.count { break }
                    }
                    finished = s.finished
                    return (n, woken)
                }
                fireAndClear(wake, woken)
                total += n
                if n == 0 || total == buffer.count || woken < wake.count { break }
            }
            return (total, finished)
        }
    }

    /// Arms a one-shot wake-up for a non-async consumer: returns false (arming
    /// nothing) if values are buffered or the channel is finished; otherwise
    /// registers `waker`, which the next send (or the last sender's close)
    /// disarms and calls once, outside the lock.
    public func armWaker(_ waker: any BroadcastWaker) -> Bool {
        let (armed, old) = shared.state.withLock { s -> (Bool, Waiter) in
            if !s.buffer.isEmpty || s.finished { return (false, .none) }
            let old = s.rxWaiter
            s.rxWaiter = .waker(waker)
            return (true, old)
        }
        _ = old
        return armed
    }

    /// Cancels a pending ``armWaker(_:)``.
    public func disarmWaker() {
        let old = shared.state.withLock { s -> Waiter in
            let w = s.rxWaiter
            s.rxWaiter = .none
            return w
        }
        _ = old
    }

    /// Stops the channel accepting values: senders fail from now on (blocked
    /// ones wake and fail), already buffered values can still be received,
    /// then `recv` returns nil. Idempotent.
    public func close() { shared.closeReceiver() }

    /// Number of values buffered now.
    public var count: Int { shared.state.withLock { $0.buffer.count } }

    /// Parked blocked senders (for tests).
    var parkedSenderCount: Int { shared.state.withLock { $0.sendWaiters.linkedCount } }
    /// Whether the receiver is parked or armed (for tests).
    var isReceiverParked: Bool {
        shared.state.withLock { s in
            if case .none = s.rxWaiter { return false }
            return true
        }
    }
}
