// The sending handles of an mpsc channel, bounded and unbounded.
import Locks
import Synchronization

/// A sending handle of a bounded mpsc channel.
///
/// `Sendable`; any task or thread may call it concurrently. The channel's
/// senders are gone when every handle was closed (``close()`` or deinit); the
/// receiver then drains the buffer and gets nil.
public final class MpscSender<T: Sendable>: Sendable {
    /// The channel.
    @usableFromInline let shared: MpscShared<T>
    /// Set once this handle is closed (its claim on the channel given back).
    @usableFromInline let released: Atomic<Bool>

    init(shared: MpscShared<T>, released: Bool = false) {
        self.shared = shared
        self.released = Atomic(released)
    }

    deinit { close() }

    /// Sends `value`, suspending while the channel is full (backpressure).
    ///
    /// Throws ``MpscSendError/closed(_:)`` if the receiver is closed or gone
    /// (or this handle was closed), and ``MpscSendError/cancelled(_:)`` if the
    /// task is cancelled while waiting; both hand the value back. A cancelled
    /// send leaves no waiter behind. FIFO per sender. Unlike tokio (which hands
    /// a freed slot to the first blocked sender at once), a sender that found
    /// the channel full is woken when the receiver has drained it to half its
    /// capacity, together with every other blocked sender; they then race for
    /// the room (not strictly fair). This trades some latency under
    /// saturation for not paying one park and one wake-up per message.
    @inlinable @inline(__always)
    nonisolated(nonsending) public func send(_ value: T) async throws(MpscSendError<T>) {
        if released.load(ordering: .relaxed) { throw .closed(value) }
        switch shared.tryPush(value) {
        case .sent(let w): w.fire()
        case .closed: throw .closed(value)
        case .full: try await shared.sendWhenFull(value)
        }
    }

    /// Sends `value` if there is room right now.
    @inlinable
    public func trySend(_ value: T) throws(MpscTrySendError<T>) {
        if released.load(ordering: .relaxed) { throw .closed(value) }
        switch shared.tryPush(value) {
        case .sent(let w): w.fire()
        case .full: throw .full(value)
        case .closed: throw .closed(value)
        }
    }

    /// Another handle to the same channel (a closed handle if the channel is
    /// already closed).
    public func clone() -> MpscSender<T> {
        let ok = !released.load(ordering: .relaxed) && shared.addSender()
        return MpscSender(shared: shared, released: !ok)
    }

    /// Closes this handle (idempotent; deinit does the same).
    public func close() {
        if !released.exchange(true, ordering: .acquiringAndReleasing) { shared.releaseSender() }
    }

    /// True once the receiver was closed or deinitialized.
    public var isClosed: Bool { shared.state.withLock { $0.closed } }
}

/// A sending handle of an unbounded mpsc channel. Same rules as
/// ``MpscSender``, but `send` never waits.
public final class MpscUnboundedSender<T: Sendable>: Sendable {
    /// The channel.
    @usableFromInline let shared: MpscShared<T>
    /// Set once this handle is closed (its claim on the channel given back).
    @usableFromInline let released: Atomic<Bool>

    init(shared: MpscShared<T>, released: Bool = false) {
        self.shared = shared
        self.released = Atomic(released)
    }

    deinit { close() }

    /// Buffers `value` and wakes the receiver if it waits. Throws
    /// ``MpscSendError/closed(_:)`` (with the value) if the receiver is gone.
    @inlinable
    public func send(_ value: T) throws(MpscSendError<T>) {
        if released.load(ordering: .relaxed) { throw .closed(value) }
        switch shared.tryPush(value) {
        case .sent(let w): w.fire()
        case .full, .closed: throw .closed(value)
        }
    }

    /// Another handle to the same channel.
    public func clone() -> MpscUnboundedSender<T> {
        let ok = !released.load(ordering: .relaxed) && shared.addSender()
        return MpscUnboundedSender(shared: shared, released: !ok)
    }

    /// Closes this handle (idempotent; deinit does the same).
    public func close() {
        if !released.exchange(true, ordering: .acquiringAndReleasing) { shared.releaseSender() }
    }

    /// True once the receiver was closed or deinitialized.
    public var isClosed: Bool { shared.state.withLock { $0.closed } }
}
