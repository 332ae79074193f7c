// Queue groups: subscriptions that share one read position per topic, so each message goes to one member.
import Channels
import Locks

/// Identifies a queue group: the subscription string and the group name (PROTOCOL.md, "Queue groups").
struct GroupKey: Hashable, Sendable {
    let pattern: [UInt8]
    let name: [UInt8]
}

/// A queue group: every subscription with the same string and `group=`, on any
/// connection, and the one ring receiver per topic they share.
///
/// Guarantees: each message of a topic is read by exactly one member (the shared
/// receiver hands every batch to one reader), or counted in exactly one member's
/// `LAGGED` (the shared receiver reports a lag once); a member reads only when its
/// output is empty, so members that keep up take the work. Guarded by the
/// registry's lock, except ``GroupShare``'s waiting list.
final class QueueGroup: @unchecked Sendable {
    // @unchecked Sendable: `members` and `shares` are only touched under the registry's lock.
    let key: GroupKey
    /// The subscriptions in the group.
    var members: [Subscription] = []
    /// The group's reading of each topic it reads.
    var shares: [ObjectIdentifier: GroupShare] = [:]

    init(key: GroupKey) { self.key = key }

    /// The share of `topic`, made (at `start`) by the first member to read it.
    /// `head` is set to the topic's head when the share's receiver was placed, or now.
    func share(of topic: Topic, start: BroadcastStart, head: inout UInt64) -> GroupShare {
        if let existing = shares[ObjectIdentifier(topic)] {
            head = topic.sender.positions.tail
            return existing
        }
        let made = GroupShare(receiver: topic.sender.subscribe(start, tail: &head), topic: topic, group: self)
        shares[ObjectIdentifier(topic)] = made
        return made
    }

    /// A member's cursor on `share`'s topic is gone; the share goes with its last cursor.
    func leave(_ cursor: Cursor, of share: GroupShare) {
        share.cursorCount -= 1
        share.forgetWaiting(cursor)
        if share.cursorCount == 0 {
            share.receiver.disarmWaker()
            shares[ObjectIdentifier(share.topic)] = nil
        }
    }
}

/// One queue group's reading of one topic: the ring receiver its members' cursors
/// share, and the members waiting for the next message.
///
/// The shared receiver's wake-up is armed with this object; a send wakes every
/// member that waits, and whichever reads first takes the batch (the others find
/// nothing and wait again).
final class GroupShare: BroadcastWaker, @unchecked Sendable {
    // @unchecked Sendable: `cursorCount` is guarded by the registry's lock, `waiting`
    // by its own lock; the rest is immutable.
    let receiver: BroadcastReceiver<Message>
    let topic: Topic
    /// The group whose share this is (it holds the share while a cursor reads it,
    /// and a cursor reaches it only until it is dropped).
    unowned let group: QueueGroup
    /// Member cursors on this share (guarded by the registry's lock).
    var cursorCount = 0
    /// Member cursors that found nothing to read and wait for a send.
    private let waiting = PthreadLock<[Cursor]>([])

    init(receiver: BroadcastReceiver<Message>, topic: Topic, group: QueueGroup) {
        self.receiver = receiver
        self.topic = topic
        self.group = group
    }

    /// `cursor` is about to read and, if it drains the receiver, to wait: it is
    /// listed before the read, so a send right after the read still finds it.
    /// Never inlined: inlined into the delivery loop (as it was once ``PthreadLock``
    /// became one allocation), it made that loop spill registers for every message
    /// (callgrind: 3 instructions more per delivery, for a path only group members take).
    @inline(never)
    func markWaiting(_ cursor: Cursor) {
        waiting.withLock { list in
            if !list.contains(where: { $0 === cursor }) { list.append(cursor) }
        }
    }

    func forgetWaiting(_ cursor: Cursor) {
        waiting.withLock { list in list.removeAll { $0 === cursor } }
    }

    /// Called by the ring after a send: every waiting member is scheduled on its loop.
    func wake() {
        let woken = waiting.withLock { list -> [Cursor] in
            let taken = list
            list.removeAll(keepingCapacity: true)
            return taken
        }
        for cursor in woken { cursor.scheduler.schedule(cursor) }
    }
}
