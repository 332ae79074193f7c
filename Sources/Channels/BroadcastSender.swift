import Synchronization

/// The sending half of a broadcast channel.
///
/// Any thread or task may call any method at any time (the type is
/// `Sendable`; all state is behind the channel's lock or in an atomic).
/// A sender handle stays valid until it is closed: ``close()`` or its deinit.
/// The channel closes when the last sender handle is closed; receivers then
/// get what is still held, then ``BroadcastRecvError/closed``.
public final class BroadcastSender<T: Sendable>: Sendable {
    /// The channel.
    @usableFromInline let shared: BroadcastShared<T>
    /// Set once this handle is closed (its claim on the channel given back).
    @usableFromInline let released: Atomic<Bool>

    init(shared: BroadcastShared<T>, released: Bool = false) {
        self.shared = shared
        self.released = Atomic(released)
    }

    deinit { close() }

    /// Stores `value` for every current receiver and wakes the waiting ones.
    ///
    /// Returns the number of receivers at that moment (each will see the value
    /// unless it lags). With no receivers, nothing is stored and 0 is returned;
    /// a closed handle also returns 0. (tokio returns `Err(SendError(value))`
    /// in those cases instead; here the caller already holds the value.)
    /// If the ring is full, the oldest value is overwritten, and receivers that
    /// had not read it will see ``BroadcastRecvError/lagged(_:)``.
    @inlinable @discardableResult
    public func send(_ value: T) -> Int {
        if released.load(ordering: .relaxed) { return 0 }
        return shared.send(value)
    }

    /// A new receiver that sees only values sent after this call.
    public func subscribe() -> BroadcastReceiver<T> {
        BroadcastReceiver(shared: shared)
    }

    /// The number of live receivers.
    public var receiverCount: Int { shared.receiverCount }

    /// The channel's capacity (the requested one rounded up to a power of two).
    public var capacity: Int { shared.capacity }

    /// Another sender handle for the same channel. The channel stays open while
    /// any handle is open. Cloning a handle of a channel that already closed
    /// returns a closed handle.
    public func clone() -> BroadcastSender<T> {
        let ok = !released.load(ordering: .relaxed) && shared.addSender()
        return BroadcastSender(shared: shared, released: !ok)
    }

    /// Closes this handle (idempotent; deinit does the same). When it was the
    /// last open sender handle, the channel closes and waiting receivers wake.
    /// Later `send` calls on this handle return 0 and store nothing.
    public func close() {
        if !released.exchange(true, ordering: .acquiringAndReleasing) {
            shared.releaseSender()
        }
    }

    /// Closes the channel for every handle if no receiver has anything left to
    /// read; returns whether it is closed now. Receivers then get `closed`, and
    /// later sends store nothing and return 0. (Not in Tokio: the broker uses
    /// it to free topics that only wildcard subscriptions keep open.)
    @discardableResult
    public func closeIfDrained() -> Bool { shared.closeIfDrained() }

    /// Whether the channel is closed.
    public var isClosed: Bool { shared.isClosed }
}
