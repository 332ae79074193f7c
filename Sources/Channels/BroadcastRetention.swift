// Keeping values after they were read: positions, replay from a position, and byte bounds (not in Tokio).
import Synchronization

/// How a broadcast channel keeps values that every receiver has read.
///
/// A Tokio channel drops a value once every receiver read it and stores
/// nothing while it has no receiver. A *retaining* channel (``count`` ≥ 1)
/// instead holds the last `min(sent, count)` values whatever its receivers do,
/// numbers every value with its position (0 for the first), and lets a new
/// receiver start at an older position (``BroadcastStart``). Guarantees:
/// - values held are always the newest ones, positions `oldest..<tail` with no hole;
/// - at most ``count`` values (``count`` is capped at the capacity) and at most
///   ``maxBytes`` bytes (each value weighing what its sender said,
///   ``BroadcastSender/sendLocated(_:weight:)``) are held: past them the oldest
///   values are dropped (the newest always stays), and a receiver that had not
///   read a dropped value reports it as lag, exactly as for an overwrite;
/// - a receiver still never falls more than the capacity behind.
public struct BroadcastRetention<T: Sendable>: Sendable {
    /// Values held after every receiver read them (≥ 1; capped at the capacity).
    public var count: Int
    /// The most bytes held, by the weights senders give; `Int.max` for no bound.
    public var maxBytes: Int
    /// Where the channel also adds its held bytes (a budget across channels).
    public var account: BroadcastByteAccount?

    public init(count: Int, maxBytes: Int = .max, account: BroadcastByteAccount? = nil) {
        self.count = max(1, count)
        self.maxBytes = maxBytes
        self.account = account
    }
}

/// A running total of the bytes several retaining channels hold. Any thread.
public final class BroadcastByteAccount: Sendable {
    private let total = Atomic<Int>(0)

    public init() {}

    /// Bytes held now by every channel that reports here.
    public var bytes: Int { total.load(ordering: .relaxed) }

    @usableFromInline
    func add(_ delta: Int) { total.add(delta, ordering: .relaxed) }
}

/// Where a new receiver starts reading.
public enum BroadcastStart: Sendable, Equatable {
    /// Values sent after it subscribed (Tokio's only choice).
    case tail
    /// The value at this position and every later one. A position no longer held
    /// is reported as lag (how many) on the first read; past the tail means the tail.
    /// On a channel that does not retain, the tail.
    case position(UInt64)
    /// The last `n` values held (fewer if fewer are held), then later ones.
    case last(UInt64)
}

/// A channel's positions at one moment.
public struct BroadcastPositions: Sendable, Equatable {
    /// The position the next value will get (= the number of values ever sent).
    public var tail: UInt64
    /// The oldest position held (= `tail` when nothing is held, or the channel does not retain).
    public var oldest: UInt64
    /// Bytes held (retaining channels with a weight; else 0).
    public var heldBytes: Int

    public init(tail: UInt64, oldest: UInt64, heldBytes: Int) {
        self.tail = tail
        self.oldest = oldest
        self.heldBytes = heldBytes
    }
}

extension Broadcast {
    /// Creates a retaining broadcast channel (see ``BroadcastRetention``) of at most
    /// `capacity` values (rounded up to a power of two), and its first receiver.
    public static func channel<T: Sendable>(
        of: T.Type = T.self, capacity: Int, retention: BroadcastRetention<T>
    ) throws(BroadcastChannelError) -> (BroadcastSender<T>, BroadcastReceiver<T>) {
        let sender = try BroadcastSender<T>(capacity: capacity, retention: retention)
        return (sender, sender.subscribe())
    }
}

extension BroadcastSender {
    /// Sends like ``send(_:)`` and says which position the value got (nil when the
    /// channel or this handle is closed). On a retaining channel the value is
    /// stored even with no receiver, and counts `weight` bytes for the byte bounds.
    @inlinable @inline(__always)
    public final func sendLocated(_ value: consuming T, weight: UInt32 = 0) -> (receivers: Int, position: UInt64?) {
        if released { return (0, nil) }
        guard let channel = channel.load(ordering: .acquiring) else { return (0, nil) }
        var moving: T? = consume value  // moved into the closure below, not copied
        return channel._withUnsafeGuaranteedRef { shared in
            if shared.isRetaining { return shared.sendRetaining(moving.take().unsafelyUnwrapped, weight: weight) }
            let before = shared.positions.tail
            let receivers = shared.send(moving.take().unsafelyUnwrapped)
            return (receivers, receivers > 0 ? before : nil)
        }
    }

    /// A new receiver that starts at `start` (the channel must be open).
    public final func subscribe(_ start: BroadcastStart) -> BroadcastReceiver<T> {
        var tail: UInt64 = 0
        return subscribe(start, tail: &tail)
    }

    /// A new receiver that starts at `start`; `tail` is set to the channel's tail
    /// when the receiver was placed (the number of values sent before it). The channel
    /// must be open (see ``init(unopened:)``).
    @inlinable
    public final func subscribe(_ start: BroadcastStart, tail: inout UInt64) -> BroadcastReceiver<T> {
        guard let shared = openShared else { preconditionFailure("subscribe(_:tail:) on an unopened broadcast sender") }
        return BroadcastReceiver(shared: shared, start: start, tail: &tail)
    }

    /// The channel's positions now (all 0 while unopened).
    @inlinable
    public final var positions: BroadcastPositions {
        openShared?.positions ?? BroadcastPositions(tail: 0, oldest: 0, heldBytes: 0)
    }

    /// Drops the oldest values held until at most `limit` bytes are held (the newest
    /// stays); returns the bytes freed.
    @discardableResult
    public final func trim(toBytes limit: Int) -> Int { openShared?.trim(toBytes: limit) ?? 0 }

    /// Retaining channels: moves the tail forward to `position` without values, as if
    /// the values of the positions between were sent and overwritten at once, and drops
    /// what is held (the held positions are kept without holes, so none can stay before a
    /// skipped one). Every receiver behind `position` then reads a lag of exactly what it
    /// had not read, and the next value sent takes `position`. Waiting receivers are
    /// woken (they have a lag to read). Returns false, changing nothing, when `position`
    /// is not past the tail, the channel does not retain, or it is closed.
    ///
    /// Not in Tokio: a ring that mirrors a stream numbered elsewhere (the cluster engine's,
    /// issue #15) uses it to start at that stream's head, and to count what it could not get.
    @discardableResult
    public final func skip(to position: UInt64) -> Bool { openShared?.skip(to: position) ?? false }
}
