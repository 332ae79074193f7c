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
    /// The ring. The registry holds the only sender.
    let sender: BroadcastSender<Message>
    /// True once the registry has removed this topic.
    let retired = AtomicFlag()
    /// Messages published to this topic.
    let published = RelaxedCounter()
    /// The cursors reading this topic (guarded by the registry's lock); each
    /// cursor knows its index here, for O(1) removal.
    var cursors: [Cursor] = []

    init(name: [UInt8], capacity: Int) throws(BroadcastChannelError) {
        self.name = name
        let (sender, _) = try Broadcast.channel(of: Message.self, capacity: capacity)
        self.sender = sender
    }

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
