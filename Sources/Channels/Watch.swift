import Locks

/// A single-value channel that keeps only the latest value (tokio's
/// `sync::watch`).
///
/// The sender replaces the value with ``WatchSender/send(_:)``, which bumps a
/// version. Each receiver remembers the version it has seen (the value current
/// at subscribe time counts as seen). ``WatchReceiver/changed()`` waits for a
/// newer version and marks it seen; values sent in between coalesce. Once the
/// sender is gone, `changed()` fails, but only after the last value was seen.
/// Any thread may create channels.
public enum Watch {
    /// A new watch channel holding `initial`.
    public static func channel<T: Sendable>(initial: T) -> (WatchSender<T>, WatchReceiver<T>) {
        let shared = WatchShared(initial)
        return (WatchSender(shared: shared), WatchReceiver(shared: shared))
    }
}

/// Why ``WatchReceiver/changed()`` returned without a new version.
public enum WatchChangedError: Error, Equatable, Sendable {
    /// The sender is gone and this receiver has seen the last value.
    case closed
    /// The task was cancelled while waiting; no waiter is left behind.
    case cancelled
}

struct WatchState<T: Sendable>: Sendable {
    var value: T
    var version: UInt64 = 0
    var closed = false
    var receiverCount = 0
    /// One node per receiver; its `cursor` is the version it has seen.
    var waiters = WaiterList()
}

/// Shared state of one watch channel; all mutable state is in the `PthreadLock`.
final class WatchShared<T: Sendable>: Sendable {
    let state: PthreadLock<WatchState<T>>

    init(_ value: T) { state = PthreadLock(WatchState(value: value)) }

    deinit { state.withLock { $0.waiters.destroy() } }

    /// Updates the state under the lock, then wakes every parked receiver in
    /// batches with the lock released (the list is detached in O(1)).
    func update(_ body: (inout WatchState<T>) -> Void) {
        withUnsafeTemporaryAllocation(of: Waiter.self, capacity: wakeBatchSize) { buf in
            let sentinel = state.withLock { s -> Int32 in
                body(&s)
                return s.waiters.detachAll()
            }
            guard sentinel >= 0 else { return }
            wakeDetached(sentinel, in: state.storage, waiters: \.waiters, using: buf)
        }
    }
}

/// The sending half of a watch channel. `Sendable`; any thread may call it.
/// Deinit (or ``close()``) closes the channel.
public final class WatchSender<T: Sendable>: Sendable {
    let shared: WatchShared<T>

    init(shared: WatchShared<T>) { self.shared = shared }

    deinit { close() }

    /// Replaces the value, bumps the version and wakes every waiting receiver.
    /// Stores the value even with no receiver (tokio's `send_replace`); returns
    /// the number of receivers. Ignored after ``close()``.
    @discardableResult
    public func send(_ value: T) -> Int {
        var count = 0
        var old: T? = nil
        shared.update { s in
            count = s.receiverCount
            if s.closed { return }
            old = s.value
            s.value = value
            s.version &+= 1
        }
        _ = old  // the previous value is released outside the lock
        return count
    }

    /// A new receiver; the current value counts as seen.
    public func subscribe() -> WatchReceiver<T> { WatchReceiver(shared: shared) }

    /// The current value.
    public var current: T { shared.state.withLock { $0.value } }

    /// The number of live receivers.
    public var receiverCount: Int { shared.state.withLock { $0.receiverCount } }

    /// Closes the channel (idempotent): receivers get the last value, then
    /// `changed()` fails with ``WatchChangedError/closed``.
    public func close() {
        shared.update { $0.closed = true }
    }
}

/// A receiving half of a watch channel. `Sendable`, but use each receiver from
/// one task at a time (it has one parking place and one seen-version).
public final class WatchReceiver<T: Sendable>: Sendable {
    let shared: WatchShared<T>
    let id: Int32

    init(shared: WatchShared<T>) {
        self.shared = shared
        id = shared.state.withLock { s in
            let id = s.waiters.allocate()
            s.waiters.nodes[Int(id)].cursor = s.version
            s.receiverCount += 1
            return id
        }
    }

    deinit {
        let w = shared.state.withLock { s -> Waiter in
            let w = s.waiters.unpark(id)
            s.waiters.free(id)
            s.receiverCount -= 1
            return w
        }
        _ = w
    }

    /// The current value, without marking it seen.
    public func borrow() -> T { shared.state.withLock { $0.value } }

    /// The current value, marking its version seen.
    public func borrowAndUpdate() -> T {
        shared.state.withLock { s in
            s.waiters.nodes[Int(id)].cursor = s.version
            return s.value
        }
    }

    /// Whether a version newer than the seen one exists. Throws
    /// ``WatchChangedError/closed`` if the sender is gone (like tokio).
    public func hasChanged() throws(WatchChangedError) -> Bool {
        let (changed, closed) = shared.state.withLock { s in
            (s.version != s.waiters.nodes[Int(id)].cursor, s.closed)
        }
        if closed { throw .closed }
        return changed
    }

    /// Waits for a version newer than the one this receiver has seen and marks
    /// it seen (intermediate values coalesce). Fails with
    /// ``WatchChangedError/closed`` only once the sender is gone and the last
    /// value was seen, and with ``WatchChangedError/cancelled`` if the task is
    /// cancelled while waiting.
    nonisolated(nonsending) public func changed() async throws(WatchChangedError) {
        let shared = self.shared, id = self.id
        while true {
            let r = shared.state.withLock { s -> WatchChangedError? in
                if s.version != s.waiters.nodes[Int(id)].cursor {
                    s.waiters.nodes[Int(id)].cursor = s.version
                    return nil
                }
                return s.closed ? .closed : .cancelled  // .cancelled stands for "not yet"
            }
            switch r {
            case nil: return
            case .closed?: throw .closed
            case .cancelled?: break
            }
            if Task.isCancelled { throw .cancelled }
            await withTaskCancellationHandler {
                await withUnsafeContinuation { (c: UnsafeContinuation<Void, Never>) in
                    let parked = shared.state.withLock { s -> Bool in
                        if s.version != s.waiters.nodes[Int(id)].cursor || s.closed || Task.isCancelled { return false }
                        s.waiters.park(id, .task(c))
                        return true
                    }
                    if !parked { c.resume() }
                }
            } onCancel: {
                let w = shared.state.withLock { $0.waiters.unpark(id) }
                w.fire()
            }
        }
    }

    /// Parked waiters of the whole channel (for tests).
    var channelParkedCount: Int { shared.state.withLock { $0.waiters.linkedCount } }
}
