import Channels
import Glibc
// A topic: one broadcast ring of encoded messages shared by all its subscriptions.

/// A concrete topic. Publishing sends one ``Message`` into its ring; every
/// subscription reads it through its own cursor.
///
/// Any thread. `retired` is set (under the registry's lock) when the registry
/// drops the topic; a publisher that cached the topic must check it and look
/// the topic up again.
public final class Topic: @unchecked Sendable {
    // @unchecked Sendable: `cursors` is read and changed only under the
    // registry's lock; every other stored property is immutable or atomic.

    /// The topic's name.
    public let name: [UInt8]
    /// Its stream's epoch (PROTOCOL.md version 2): unique to this topic object, so a
    /// topic freed and made again, or a restarted broker, has another.
    let epoch: [UInt8]
    /// The ring: it holds the newest messages (``RingLimits``) and numbers them; a
    /// message's sequence is its ring position + 1. The registry holds the only sender.
    let sender: BroadcastSender<Message>
    /// True once the registry has removed this topic.
    let retired = AtomicFlag()
    /// Set once a message whose payload cannot be one line was published here
    /// (version 1 readers then check each message).
    let carriesMultiline = AtomicFlag()
    /// Messages published to this topic.
    let published = RelaxedCounter()
    /// The cursors reading this topic (guarded by the registry's lock); each
    /// cursor knows its index here, for O(1) removal.
    var cursors: [Cursor] = []
    /// Guarded by the registry's lock: when the topic began to linger (it has no
    /// subscription to its own name), in monotonic ms; nil while it has one.
    var lingerSinceMs: Int64?
    /// Guarded by the registry's lock: the ring's tail when the linger sweep last
    /// looked, so a message published while lingering restarts the linger.
    var lingerSeenTail: UInt64 = 0
    /// Guarded by the registry's lock: orders lingering topics by when they began to
    /// linger, within the same millisecond too (the store's count at that moment).
    var lingerRank: UInt64 = 0

    init(name: [UInt8], epoch: [UInt8], limits: RingLimits, account: BroadcastByteAccount?) throws(BroadcastChannelError) {
        self.name = name
        self.epoch = epoch
        let retention = BroadcastRetention<Message>(
            count: limits.capacity, maxBytes: limits.maxBytes, account: account)
        let (sender, _) = try Broadcast.channel(of: Message.self, capacity: limits.capacity, retention: retention)
        self.sender = sender
    }

    /// Whether a subscription to this very name (not a pattern) reads it.
    var hasConcreteSubscription: Bool { cursors.contains { !$0.isPattern } }

    /// Whether this topic is called `other` (a byte comparison, no allocation).
    @inline(__always)
    func hasName(_ other: UnsafeRawBufferPointer) -> Bool {
        guard other.count == name.count, let otherBase = other.baseAddress else { return other.isEmpty && name.isEmpty }
        return name.withUnsafeBytes { mine in
            guard let mineBase = mine.baseAddress else { return false }
            return memcmp(mineBase, otherBase, other.count) == 0
        }
    }

    /// Subscriptions currently attached.
    public var receiverCount: Int { sender.receiverCount }
}

/// The bounds of one topic's ring.
struct RingLimits: Sendable, Equatable {
    /// Messages held (and how far a subscriber may fall behind); a power of two is used.
    var capacity: Int
    /// Bytes of messages held (``Message/weight``); the oldest go first past it.
    var maxBytes: Int
}
