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
    // @unchecked Sendable: an open class; its own fields are atomics.

    /// The channel, retained (nil until ``open(capacity:retention:)`` for a sender made
    /// with ``init(unopened:)``). Set at most once, with release ordering, and read with
    /// acquire: whatever the opener did before it (such as placing receivers) is visible
    /// to a thread that sees the channel.
    @usableFromInline final let channel: Atomic<Unmanaged<BroadcastShared<T>>?>
    /// ``releasedBit``: set once this handle is closed (its claim on the channel given
    /// back). The other bits belong to a subclass.
    public final let handleFlags: Atomic<UInt64>
    /// The bit of ``handleFlags`` that says this handle is closed.
    public static var releasedBit: UInt64 { 1 << 63 }

    init(shared: BroadcastShared<T>, released: Bool = false) {
        self.channel = Atomic(Unmanaged.passRetained(shared))
        self.handleFlags = Atomic(released ? BroadcastSender.releasedBit : 0)
    }

    /// Creates a retaining channel (see ``BroadcastRetention``) of at most `capacity`
    /// values (rounded up to a power of two), with this object as its first sender
    /// and no receiver: the form for a subclass that owns its channel.
    ///
    /// - Throws: ``BroadcastChannelError/invalidCapacity(_:)`` as ``Broadcast/channel(of:capacity:retention:)``.
    public init(capacity: Int, retention: BroadcastRetention<T>) throws(BroadcastChannelError) {
        let shared = try BroadcastSender.makeShared(capacity: capacity, retention: retention)
        self.channel = Atomic(Unmanaged.passRetained(shared))
        self.handleFlags = Atomic(0)
    }

    /// A sender whose channel does not exist yet: ``open(capacity:retention:)`` makes it.
    /// For an object that owns a channel it may never need (a topic that only has
    /// subscribers): until it is opened it holds no channel, and the whole cost is this
    /// object. Until then it has no receiver and no value: ``send(_:)`` and
    /// ``sendLocated(_:weight:)`` store nothing and return 0 (and no position),
    /// ``positions`` are all 0, ``skip(to:)`` and ``trim(toBytes:)`` change nothing, and
    /// ``close()`` or ``closeIfDrained()`` close the handle for good (it can no longer be
    /// opened). ``subscribe()`` needs the channel open.
    public init(unopened: Void) {
        self.channel = Atomic(nil)
        self.handleFlags = Atomic(0)
    }

    /// Makes the channel of a sender made with ``init(unopened:)``: retaining (see
    /// ``BroadcastRetention``), of at most `capacity` values (rounded up to a power of
    /// two), with no receiver. Returns false, making nothing, when the channel is open
    /// already or this handle is closed. Callers open a sender from one thread at a time
    /// (a second opener that races finds it open and gets false).
    ///
    /// - Throws: ``BroadcastChannelError/invalidCapacity(_:)`` as ``Broadcast/channel(of:capacity:retention:)``.
    @inlinable
    public final func open(capacity: Int, retention: BroadcastRetention<T>) throws(BroadcastChannelError) -> Bool {
        if released || channel.load(ordering: .acquiring) != nil { return false }
        let made = Unmanaged.passRetained(try BroadcastSender.makeShared(capacity: capacity, retention: retention))
        if channel.compareExchange(expected: nil, desired: made, ordering: .acquiringAndReleasing).exchanged { return true }
        made.release()
        return false
    }

    /// Whether the channel exists (always, but for an unopened ``init(unopened:)`` sender).
    @inlinable @inline(__always)
    public final var isOpen: Bool { channel.load(ordering: .acquiring) != nil }

    @inlinable
    static func makeShared(capacity: Int, retention: BroadcastRetention<T>) throws(BroadcastChannelError) -> BroadcastShared<T> {
        guard capacity >= 1, capacity <= Broadcast.maxCapacity else { throw .invalidCapacity(capacity) }
        var c = 1
        while c < capacity { c <<= 1 }
        return BroadcastShared<T>.make(capacity: c, retention: retention)
    }

    /// The channel, nil while unopened (retained for the caller's use).
    @inlinable
    final var openShared: BroadcastShared<T>? { channel.load(ordering: .acquiring)?.takeUnretainedValue() }

    /// The channel of a sender known to be open (every sender but an unopened one; the
    /// methods that may meet an unopened sender use ``openShared``).
    @inlinable
    final var shared: BroadcastShared<T> { channel.load(ordering: .acquiring).unsafelyUnwrapped.takeUnretainedValue() }

    deinit {
        close()
        channel.load(ordering: .acquiring)?.release()
    }

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
        guard let channel = channel.load(ordering: .acquiring) else { return 0 }
        return channel._withUnsafeGuaranteedRef { $0.send(value) }
    }

    /// A new receiver that sees only values sent after this call (the channel must be
    /// open: see ``init(unopened:)``).
    public final func subscribe() -> BroadcastReceiver<T> {
        precondition(isOpen, "subscribe() on an unopened broadcast sender")
        return BroadcastReceiver(shared: shared)
    }

    /// The number of live receivers (0 while unopened).
    public final var receiverCount: Int { openShared?.receiverCount ?? 0 }

    /// The channel's capacity (the requested one rounded up to a power of two; 0 while unopened).
    public final var capacity: Int { openShared?.channelCapacity ?? 0 }

    /// Another sender handle for the same channel. The channel stays open while
    /// any handle is open. Cloning a handle of a channel that already closed
    /// returns a closed handle.
    public final func clone() -> BroadcastSender<T> {
        guard let shared = openShared else {
            precondition(released, "clone() of an unopened broadcast sender")
            let closed = BroadcastSender(unopened: ())
            closed.close()
            return closed
        }
        let ok = !released && shared.addSender()
        return BroadcastSender(shared: shared, released: !ok)
    }

    /// Closes this handle (idempotent; deinit does the same). When it was the
    /// last open sender handle, the channel closes and waiting receivers wake.
    /// Later `send` calls on this handle return 0 and store nothing.
    @inlinable
    public final func close() {
        let before = handleFlags.bitwiseOr(BroadcastSender.releasedBit, ordering: .acquiringAndReleasing).oldValue
        if before & BroadcastSender.releasedBit == 0 {
            openShared?.releaseSender()
        }
    }

    /// Closes the channel for every handle if no receiver has anything left to
    /// read; returns whether it is closed now. Receivers then get `closed`, and
    /// later sends store nothing and return 0. (Not in Tokio: the broker uses
    /// it to free topics that only wildcard subscriptions keep open.)
    @inlinable @discardableResult
    public final func closeIfDrained() -> Bool {
        guard let shared = openShared else {
            close()  // nothing sent, nobody reading: drained
            return true
        }
        return shared.closeIfDrained()
    }

    /// Whether the channel is closed (an unopened sender: whether this handle is).
    @inlinable
    public final var isClosed: Bool { openShared?.isClosed ?? released }
}
