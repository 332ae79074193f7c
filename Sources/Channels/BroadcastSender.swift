import Synchronization

/// The sending half of a broadcast channel.
///
/// Any thread or task may call any method at any time (the type is
/// `Sendable`; all state is behind the channel's lock or in an atomic).
/// A sender handle stays valid until it is closed: ``close()`` or its deinit.
/// The channel closes when the last sender handle is closed; receivers then
/// get what is still held, then ``BroadcastRecvError/closed``.
///
/// Open so that an object that owns a channel can be its sender, rather than hold
/// one (one allocation and one pointer hop fewer per send); every member is final.
/// Such a subclass keeps its own flags in ``handleFlags`` (every bit but
/// ``releasedBit``), so that it adds no word of padding after this class's fields.
open class BroadcastSender<T: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: an open class; its own fields are a `let` and an atomic.

    /// The channel.
    @usableFromInline final let shared: BroadcastShared<T>
    /// ``releasedBit``: set once this handle is closed (its claim on the channel given
    /// back). The other bits belong to a subclass.
    public final let handleFlags: Atomic<UInt64>
    /// The bit of ``handleFlags`` that says this handle is closed.
    public static var releasedBit: UInt64 { 1 << 63 }

    init(shared: BroadcastShared<T>, released: Bool = false) {
        self.shared = shared
        self.handleFlags = Atomic(released ? BroadcastSender.releasedBit : 0)
    }

    /// Creates a retaining channel (see ``BroadcastRetention``) of at most `capacity`
    /// values (rounded up to a power of two), with this object as its first sender
    /// and no receiver: the form for a subclass that owns its channel.
    ///
    /// - Throws: ``BroadcastChannelError/invalidCapacity(_:)`` as ``Broadcast/channel(of:capacity:retention:)``.
    public init(capacity: Int, retention: BroadcastRetention<T>) throws(BroadcastChannelError) {
        guard capacity >= 1, capacity <= Broadcast.maxCapacity else { throw .invalidCapacity(capacity) }
        var c = 1
        while c < capacity { c <<= 1 }
        self.shared = BroadcastShared<T>.make(capacity: c, retention: retention)
        self.handleFlags = Atomic(0)
    }

    deinit { close() }

    /// Whether this handle is closed.
    @inlinable @inline(__always)
    final var released: Bool { handleFlags.load(ordering: .relaxed) & BroadcastSender.releasedBit != 0 }

    /// Stores `value` for every current receiver and wakes the waiting ones.
    ///
    /// Returns the number of receivers at that moment (each will see the value
    /// unless it lags). With no receivers, nothing is stored and 0 is returned;
    /// a closed handle also returns 0. (tokio returns `Err(SendError(value))`
    /// in those cases instead; here the caller already holds the value.)
    /// If the ring is full, the oldest value is overwritten, and receivers that
    /// had not read it will see ``BroadcastRecvError/lagged(_:)``.
    @inlinable @discardableResult
    public final func send(_ value: T) -> Int {
        if released { return 0 }
        return shared.send(value)
    }

    /// A new receiver that sees only values sent after this call.
    public final func subscribe() -> BroadcastReceiver<T> {
        BroadcastReceiver(shared: shared)
    }

    /// The number of live receivers.
    public final var receiverCount: Int { shared.receiverCount }

    /// The channel's capacity (the requested one rounded up to a power of two).
    public final var capacity: Int { shared.channelCapacity }

    /// Another sender handle for the same channel. The channel stays open while
    /// any handle is open. Cloning a handle of a channel that already closed
    /// returns a closed handle.
    public final func clone() -> BroadcastSender<T> {
        let ok = !released && shared.addSender()
        return BroadcastSender(shared: shared, released: !ok)
    }

    /// Closes this handle (idempotent; deinit does the same). When it was the
    /// last open sender handle, the channel closes and waiting receivers wake.
    /// Later `send` calls on this handle return 0 and store nothing.
    public final func close() {
        let before = handleFlags.bitwiseOr(BroadcastSender.releasedBit, ordering: .acquiringAndReleasing).oldValue
        if before & BroadcastSender.releasedBit == 0 {
            shared.releaseSender()
        }
    }

    /// Closes the channel for every handle if no receiver has anything left to
    /// read; returns whether it is closed now. Receivers then get `closed`, and
    /// later sends store nothing and return 0. (Not in Tokio: the broker uses
    /// it to free topics that only wildcard subscriptions keep open.)
    @discardableResult
    public final func closeIfDrained() -> Bool { shared.closeIfDrained() }

    /// Whether the channel is closed.
    public final var isClosed: Bool { shared.isClosed }
}
