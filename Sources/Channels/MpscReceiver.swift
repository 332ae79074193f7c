// The receiving half of an mpsc channel.
import Locks

/// The single consuming handle of an mpsc channel.
///
/// `Sendable` so it can move between tasks and threads, but use it from one
/// task or thread at a time (it has one parking place). Deinitializing it
/// closes the channel and releases the buffered values.
public final class MpscReceiver<T: Sendable>: Sendable {
    /// The channel.
    @usableFromInline let shared: MpscShared<T>

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
    @inlinable @inline(__always)
    nonisolated(nonsending) public func recv() async -> T? {
        while true {
            let (v, wake, done) = shared.state.withLock { s -> (T?, Bool, Bool) in
                let (v, wake) = s.pop()
                return (v, wake, v == nil && s.finished)
            }
            if let v {
                if wake { shared.wakeSenders() }
                return v
            }
            if done || Task.isCancelled { return nil }
            await park()
        }
    }

    @inlinable
    nonisolated(nonsending) func park() async {
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
    @inlinable
    public func tryRecv() throws(MpscTryRecvError) -> T {
        let (v, wake, done) = shared.state.withLock { s -> (T?, Bool, Bool) in
            let (v, wake) = s.pop()
            return (v, wake, s.finished)
        }
        if wake { shared.wakeSenders() }
        if let v { return v }
        throw done ? .disconnected : .empty
    }

    /// Moves up to `buffer.count` buffered values into the front of `buffer`
    /// (initialized slots are overwritten by assignment) in one lock
    /// acquisition, then wakes blocked senders if the buffer drained to its
    /// low-water mark. Returns how many were moved and whether the channel is
    /// finished (nothing buffered, nothing more can arrive).
    @inlinable
    public func readBatch(into buffer: UnsafeMutableBufferPointer<T>) -> (count: Int, finished: Bool) {
        readBatch(limit: buffer.count) { n, value in buffer[n] = value }
    }

    /// ``readBatch(into:)`` for memory that holds no values: the values are
    /// initialized into the front of `buffer`, and the caller owns them.
    @inlinable
    public func readBatch(intoUninitialized buffer: UnsafeMutableBufferPointer<T>) -> (count: Int, finished: Bool) {
        guard let base = buffer.baseAddress else { return readBatch(limit: 0) { _, _ in } }
        return readBatch(limit: buffer.count) { n, value in (base + n).initialize(to: value) }
    }

    @inlinable @inline(__always)
    func readBatch(limit: Int, _ store: (Int, T) -> Void) -> (count: Int, finished: Bool) {
        let (n, wake, finished) = shared.state.withLock { s -> (Int, Bool, Bool) in
            var n = 0
            while n < limit, let v = s.buffer.popFirst() {
                store(n, v)
                n += 1
            }
            let wake = n > 0 && !s.sendWaiters.isMainEmpty && s.buffer.count <= s.lowWater
            return (n, wake, s.finished)
        }
        if wake { shared.wakeSenders() }
        return (n, finished)
    }

    /// Arms a one-shot wake-up for a non-async consumer: returns false (arming
    /// nothing) if values are buffered or the channel is finished; otherwise
    /// registers `waker`, which the next send (or the last sender's close)
    /// disarms and calls once, outside the lock.
    @inlinable
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
    @inlinable
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
    @inlinable
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
