// A connection's subscription (one SUB string) and its cursors, one per concrete topic.
import Channels

/// Where a cursor reports that it has something to deliver: the event loop
/// that owns the cursor's connection. Any thread may call `schedule`.
///
/// A class for subclasses to override ``schedule(_:)`` (the base ignores wake-ups), not a
/// protocol: a reference to it is one word, where an existential took two, in every
/// cursor and every subscription.
class CursorScheduler: @unchecked Sendable {
    // @unchecked Sendable: no state of its own; a subclass that has some says why it is safe.
    init() {}

    /// A cursor has something to deliver (any thread; cheap, never blocks).
    func schedule(_ cursor: Cursor) {}
}

/// One subscription's read position in one topic's ring.
///
/// Created under the registry's lock (possibly by another loop's publish, for a
/// pattern subscription); from then on its loop-only fields are touched only on
/// the owning event loop's thread.
final class Cursor: BroadcastWaker, @unchecked Sendable {
    // @unchecked Sendable: `scheduler`, `topic` and `isPattern` are immutable;
    // `subscription` and `indexInTopic` are guarded by the registry's lock. `source` is
    // changed under that lock (see ``Source``); `isQueued` and `hasLagged` only on the
    // owning loop's thread. `wake()` reads only `scheduler`.

    /// The loop that owns this cursor's connection.
    let scheduler: CursorScheduler
    /// The topic this cursor reads.
    let topic: Topic
    /// What the cursor reads through (one word: the two references share it, where a
    /// receiver and a share took two).
    private var source: Source
    /// The subscription this cursor reads for (it owns the cursor); nil once the
    /// cursor is dropped. Strong, and cleared by ``drop()`` to break the cycle: a
    /// `weak` reference gave every subscription a side-table allocation (48 bytes
    /// an idle connection). Its connection token is the cursor's (the cursor keeps no
    /// copy: 16 bytes of heap less with the subscription's id). Read without the lock
    /// only on the owning loop: it is written there, or before that loop can see the
    /// cursor, or (``LocalTopicStore``'s retire) for a cursor waiting for its ring, which
    /// that loop only reads under the lock.
    var subscription: Subscription?
    // The small fields last, in one word.
    /// Position in `topic.cursors` (guarded by the registry's lock); -1 when in none.
    var indexInTopic: Int32 = -1
    /// True while the cursor is on its connection's ready list (loop thread only).
    var isQueued = false
    /// True once it lagged: its figures are then in its session's ``Session/lags`` (loop
    /// thread only; kept there, the cursor takes 64 bytes of heap, not 80).
    var hasLagged = false
    /// True when that subscription is a wildcard pattern.
    let isPattern: Bool

    /// `head` is set to the topic's head (messages published) when the cursor was placed.
    init(topic: Topic, scheduler: CursorScheduler, isPattern: Bool, start: BroadcastStart, head: inout UInt64) {
        self.topic = topic
        self.isPattern = isPattern
        self.scheduler = scheduler
        self.source = .own(topic.sender.subscribe(start, tail: &head))
    }

    /// A cursor on a topic whose ring is not open yet (``Topic/openRing(limits:account:)``
    /// gives it a receiver at position 0, the head of a ring that has had no message).
    init(awaitingRingOf topic: Topic, scheduler: CursorScheduler, isPattern: Bool) {
        self.topic = topic
        self.isPattern = isPattern
        self.scheduler = scheduler
        self.source = .awaitingRing
    }

    /// A queue group member's cursor, reading through `share`.
    init(topic: Topic, scheduler: CursorScheduler, isPattern: Bool, share: GroupShare) {
        self.topic = topic
        self.isPattern = isPattern
        self.scheduler = scheduler
        self.source = .group(share)
    }

    /// What a drained read arms: this cursor, or for a group member its share
    /// (which wakes every waiting member). A member is listed as waiting first.
    /// A receiver of its own, or its queue group's share (the members of a group on one
    /// topic read one receiver); `.awaitingRing` while its topic has no ring (no message
    /// yet); `.detached` once dropped (UNSUB, close).
    ///
    /// Changed under the registry's lock only: at init, by ``drop()`` (on the owning loop)
    /// and by ``attachReceiver()`` (on the loop whose publish opened the ring). The owning
    /// loop reads it without that lock only for a cursor a ring woke, and a ring wakes a
    /// cursor only after its receiver was attached (the wake orders the two).
    private enum Source {
        case own(BroadcastReceiver<Message>)
        case group(GroupShare)
        case awaitingRing
        case detached
    }

    /// The ring receiver; nil while the topic has no ring (``isAwaitingRing``) and once
    /// dropped (UNSUB, close): then it is skipped.
    var receiver: BroadcastReceiver<Message>? {
        switch source {
        case let .own(receiver): receiver
        case let .group(share): share.receiver
        case .awaitingRing, .detached: nil
        }
    }

    /// True while the cursor waits for its topic's ring (it has nothing to read).
    var isAwaitingRing: Bool {
        if case .awaitingRing = source { return true }
        return false
    }

    /// True once dropped (UNSUB, close, or its topic freed).
    var isDetached: Bool {
        if case .detached = source { return true }
        return false
    }

    /// Gives a cursor that waited for its topic's ring a receiver at position 0 and arms
    /// it (caller holds the registry lock; the ring was just opened).
    func attachReceiver() {
        guard isAwaitingRing else { return }
        let receiver = topic.sender.subscribe(.position(0))
        source = .own(receiver)
        if !receiver.armWaker(self) { scheduler.schedule(self) }
    }

    /// For a queue group member, the share it reads with the group's other members on
    /// this topic (`receiver` is that share's).
    var share: GroupShare? {
        if case let .group(share) = source { return share }
        return nil
    }

    func prepareToWait() -> any BroadcastWaker {
        guard let share else { return self }
        share.markWaiting(self)
        return share
    }

    /// Called by the ring, outside its lock, when a send follows an arm.
    func wake() {
        scheduler.schedule(self)
    }

    /// Releases the receiver (and with it its claim on unread messages), lets go
    /// of its subscription and leaves the topic's cursor list. Caller holds the
    /// registry lock and runs on the owning loop's thread.
    func drop() {
        switch source {
        case let .group(share): share.group.leave(self, of: share)
        case let .own(receiver): receiver.disarmWaker()
        case .awaitingRing, .detached: break
        }
        source = .detached
        subscription = nil
        let index = Int(indexInTopic)
        guard index >= 0, index < topic.cursors.count, topic.cursors[index] === self else { return }
        let last = topic.cursors.removeLast()
        if index < topic.cursors.count {
            topic.cursors[index] = last
            last.indexInTopic = Int32(index)
        }
        indexInTopic = -1
    }
}

/// A cursor's lag figures (loop thread only), apart from the cursor: most never lag.
final class CursorLag {
    /// The cursor they are of (held, so that its identifier, their key, is not reused).
    let cursor: Cursor

    init(cursor: Cursor) { self.cursor = cursor }

    /// Messages missed since the last lag log line.
    var sinceLog: UInt64 = 0
    /// Messages missed in all (`/api/v1/connections`).
    var missedTotal: UInt64 = 0
    /// When the last lag log line was written, in ms.
    var loggedAtMs: Int64 = 0
}

/// One `SUB <topic-or-pattern>` of one connection.
///
/// `cursors` is read and changed only under the registry's lock; the other
/// fields are immutable.
final class Subscription: @unchecked Sendable {
    // @unchecked Sendable: `cursors` is guarded by TopicRegistry's mutex (every
    // access is inside `TopicRegistry.state.withLock`); the rest is immutable.

    /// The SUB string as the client sent it.
    let pattern: [UInt8]
    /// The owning connection's token in its loop.
    let connectionToken: UInt64
    /// The owning loop.
    let scheduler: CursorScheduler
    /// A cursor per concrete topic this subscription reads (guarded by the registry lock).
    /// (Its queue group, if any, is kept by the store: most subscriptions are in none.)
    var cursors = CursorList()
    /// (Last, so that they fill the padding at the end.) True when the string contains a `*` or `>` level.
    let isPattern: Bool
    /// True when its connection speaks protocol version 2 (its topics then reserve room
    /// for the version 2 frame in each message: ``Topic/hasVersionTwoReaders``).
    let readsVersionTwo: Bool

    init(pattern: [UInt8], isPattern: Bool, connectionToken: UInt64, scheduler: CursorScheduler,
         readsVersionTwo: Bool = false) {
        self.pattern = pattern
        self.isPattern = isPattern
        self.readsVersionTwo = readsVersionTwo
        self.connectionToken = connectionToken
        self.scheduler = scheduler
    }

    /// Adds and arms a cursor on `topic`, reading from `start`, through `group`'s share
    /// of the topic when the subscription is a member of that queue group (caller holds
    /// the registry lock; for a group, the topic's ring is open). Returns the topic's head
    /// when the cursor was placed. On a topic without a ring (no message yet) the cursor
    /// waits for it: every `start` is then the head, 0.
    @discardableResult
    func attach(to topic: Topic, start: BroadcastStart = .tail, group: QueueGroup?) -> UInt64 {
        var head: UInt64 = 0
        let cursor: Cursor
        if group == nil && !topic.isRingOpen {
            cursor = Cursor(awaitingRingOf: topic, scheduler: scheduler, isPattern: isPattern)
        } else if let group {
            let share = group.share(of: topic, start: start, head: &head)
            share.cursorCount += 1
            cursor = Cursor(topic: topic, scheduler: scheduler, isPattern: isPattern, share: share)
        } else {
            cursor = Cursor(topic: topic, scheduler: scheduler, isPattern: isPattern, start: start, head: &head)
        }
        cursor.subscription = self
        if readsVersionTwo { topic.markVersionTwoReaders() }
        cursors.append(cursor)
        cursor.indexInTopic = Int32(topic.cursors.count)
        topic.cursors.append(cursor)
        if let receiver = cursor.receiver, !receiver.armWaker(cursor.prepareToWait()) {
            scheduler.schedule(cursor)
        }
        return head
    }
}
