import Dispatch
import Locks

/// A channel for exactly one value (tokio's `sync::oneshot`).
///
/// ``OneshotSender/send(_:)`` delivers the value; ``OneshotReceiver/value()``
/// waits for it. If the sender is deinitialized without sending, the receiver
/// gets ``OneshotRecvError/closed``. If the receiver is gone (or closed), `send`
/// hands the value back in the error. Any thread may create channels.
public enum Oneshot {
    /// A new oneshot channel.
    public static func channel<T: Sendable>(of: T.Type = T.self) -> (OneshotSender<T>, OneshotReceiver<T>) {
        let shared = OneshotShared<T>()
        return (OneshotSender(shared: shared), OneshotReceiver(shared: shared))
    }
}

/// Why ``OneshotSender/send(_:)`` failed; carries the value back.
public enum OneshotSendError<T: Sendable>: Error, Sendable {
    /// The receiver was deinitialized or closed.
    case closed(T)
    /// A value was already sent through this channel.
    case alreadySent(T)
}

/// Why ``OneshotReceiver/value()`` returned no value.
public enum OneshotRecvError: Error, Equatable, Sendable {
    /// The sender went away without sending, or the value was already taken,
    /// or the receiver was closed before a value was sent.
    case closed
    /// The task was cancelled before the value arrived; the value, if it
    /// arrives later, can still be taken.
    case cancelled
}

/// Why ``OneshotReceiver/tryRecv()`` returned no value.
public enum OneshotTryRecvError: Error, Equatable, Sendable {
    /// Nothing sent yet, and the sender is still alive.
    case empty
    /// See ``OneshotRecvError/closed``.
    case closed
}

struct OneshotState<T: Sendable>: Sendable {
    var value: T? = nil
    var sent = false
    var taken = false
    var senderGone = false
    var receiverClosed = false
    var waiter: Waiter = .none

    /// Takes the value, or reports why there is none.
    mutating func take() -> Result<T, OneshotTryRecvError> {
        if let v = value.take() {
            taken = true
            return .success(v)
        }
        if taken || senderGone || receiverClosed { return .failure(.closed) }
        return .failure(.empty)
    }
}

/// Shared state of one oneshot channel; all mutable state is in the `PthreadLock`.
final class OneshotShared<T: Sendable>: Sendable {
    let state = PthreadLock(OneshotState<T>())
}

/// The sending half of a oneshot channel. `Sendable`; any thread may call it.
/// Deinitializing it without sending makes the receiver fail with
/// ``OneshotRecvError/closed``.
public final class OneshotSender<T: Sendable>: Sendable {
    let shared: OneshotShared<T>

    init(shared: OneshotShared<T>) { self.shared = shared }

    deinit {
        let w = shared.state.withLock { s -> Waiter in
            s.senderGone = true
            let w = s.waiter
            s.waiter = .none
            return w
        }
        w.fire()
    }

    /// Delivers `value` and wakes the receiver. Throws (handing the value
    /// back) if the receiver is gone or closed, or if a value was already sent.
    public func send(_ value: T) throws(OneshotSendError<T>) {
        let r = shared.state.withLock { s -> Result<Waiter, OneshotSendError<T>> in
            if s.sent { return .failure(.alreadySent(value)) }
            if s.receiverClosed { return .failure(.closed(value)) }
            s.sent = true
            s.value = value
            let w = s.waiter
            s.waiter = .none
            return .success(w)
        }
        switch r {
        case .success(let w): w.fire()
        case .failure(let e): throw e
        }
    }

    /// True once the receiver was deinitialized or closed.
    public var isClosed: Bool { shared.state.withLock { $0.receiverClosed } }
}

/// The receiving half of a oneshot channel. `Sendable`, but use it from one
/// task at a time (one parking place). Deinitializing it makes a later `send`
/// fail and releases a value that was sent but not taken.
public final class OneshotReceiver<T: Sendable>: Sendable {
    let shared: OneshotShared<T>

    init(shared: OneshotShared<T>) { self.shared = shared }

    deinit {
        let v = shared.state.withLock { s -> T? in
            s.receiverClosed = true
            return s.value.take()
        }
        _ = v  // released outside the lock
    }

    /// Waits for the value. Throws ``OneshotRecvError/closed`` if the sender
    /// went away without sending (or the value was already taken), and
    /// ``OneshotRecvError/cancelled`` if the task is cancelled first (no waiter
    /// is left behind; a later call can still take the value).
    nonisolated(nonsending) public func value() async throws(OneshotRecvError) -> T {
        while true {
            switch shared.state.withLock({ $0.take() }) {
            case .success(let v): return v
            case .failure(.closed): throw .closed
            case .failure(.empty): break
            }
            if Task.isCancelled { throw .cancelled }
            let shared = self.shared
            await withTaskCancellationHandler {
                await withUnsafeContinuation { (c: UnsafeContinuation<Void, Never>) in
                    let parked = shared.state.withLock { s -> Bool in
                        if s.value != nil || s.taken || s.senderGone || s.receiverClosed || Task.isCancelled { return false }
                        s.waiter = .task(c)
                        return true
                    }
                    if !parked { c.resume() }
                }
            } onCancel: {
                let w = shared.state.withLock { s -> Waiter in
                    let w = s.waiter
                    s.waiter = .none
                    return w
                }
                w.fire()
            }
        }
    }

    /// Waits for the value on the calling thread, without a task (tokio's
    /// `blocking_recv`), for callers that are not async: nil when `timeoutMs`
    /// passed first; throws ``OneshotRecvError/closed`` if the sender went away
    /// without sending. Never call it from a task of the cooperative pool.
    public func blockingRecv(timeoutMs: Int) throws(OneshotRecvError) -> T? {
        let parking = BlockingWaker()
        let deadline = DispatchTime.now() + .milliseconds(timeoutMs)
        while true {
            let outcome = shared.state.withLock { s -> Result<T, OneshotTryRecvError> in
                let taken = s.take()
                if case .failure(.empty) = taken { s.waiter = .waker(parking) }
                return taken
            }
            switch outcome {
            case .success(let v): return v
            case .failure(.closed): throw .closed
            case .failure(.empty): break
            }
            if parking.semaphore.wait(timeout: deadline) == .timedOut {
                shared.state.withLock { $0.waiter = .none }
                return nil
            }
        }
    }

    /// Takes the value if it was sent, without waiting.
    public func tryRecv() throws(OneshotTryRecvError) -> T {
        switch shared.state.withLock({ $0.take() }) {
        case .success(let v): return v
        case .failure(let e): throw e
        }
    }

    /// Prevents the sender from sending (its `send` then fails with the value).
    /// A value sent before the close can still be taken.
    public func close() {
        shared.state.withLock { $0.receiverClosed = true }
    }

    /// Whether a task is parked in ``value()`` (for tests).
    var isParked: Bool {
        shared.state.withLock { s in
            if case .none = s.waiter { return false }
            return true
        }
    }
}

/// Parks a thread until a channel fires it (a semaphore behind the waker interface).
final class BlockingWaker: BroadcastWaker {
    let semaphore = DispatchSemaphore(value: 0)
    func wake() { semaphore.signal() }
}
