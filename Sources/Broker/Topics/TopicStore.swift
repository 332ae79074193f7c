// The seam between the command core and where topics live.
import Channels

/// Why a store refused a subscription or a publish.
enum TopicStoreError: Error, Equatable {
    /// Creating the topic would pass `max_topics`.
    case tooManyTopics(limit: Int)
    /// The store's engine (another process that orders publishes) cannot be reached; nothing
    /// was published.
    case engineUnavailable(String)
}

/// What a publish answered later did: its receivers, and the epoch and sequence the
/// message got in its stream.
struct PublishReceipt: Equatable, Sendable {
    var receivers: Int
    var epoch: [UInt8]
    var seq: UInt64
}

/// One topic's figures (STATS <topic>): lag is tail − cursor, now.
struct TopicStatistics: Equatable {
    var subscribers: Int
    /// Messages the stream holds (for `last=`, `from=` and every subscriber behind).
    var held: Int
    var published: UInt64
    /// Subscriptions with at least one message not yet read.
    var lagging: Int
    /// The largest lag; above what is held means that subscription will get LAGGED.
    var maxLag: Int
    /// The stream's epoch and head (its last message's sequence, 0 for none).
    var epoch: [UInt8] = []
    var head: UInt64 = 0
    /// Bytes the held messages weigh (``Message/weight``).
    var heldBytes: Int = 0
}

/// A stream's epoch and head at one moment (the reply to a version 2 `SUB`).
struct StreamHead: Equatable, Sendable {
    var epoch: [UInt8]
    var head: UInt64
}

/// What a publish did: how many subscriptions it was queued for, and the
/// sequence the message got in its topic's stream (the epoch is its topic's).
struct PublishOutcome: Equatable, Sendable {
    var receivers: Int
    var seq: UInt64
}

/// Where a new subscription to a concrete topic starts (PROTOCOL.md, "SUB options").
enum SubscriptionStart: Equatable, Sendable {
    /// With the next message published (a plain `SUB`).
    case next
    /// `from=<epoch>:<seq>`: after `seq`, when `epoch` is the stream's; else as `next`.
    case after(epoch: [UInt8], seq: UInt64)
    /// `last=<n>`: the last `n` messages held, then live ones.
    case last(UInt64)
    /// After this ring position, already checked against the stream's epoch and head (a
    /// store that keeps epochs elsewhere, ``RedisTopicStore``, resolves `from=` itself).
    case position(UInt64)
}

/// The store's live settings.
struct TopicStoreSettings: Equatable, Sendable {
    /// Bounds of rings made from now on (existing ones keep theirs).
    var ring: RingLimits
    /// The most topics that may exist at once.
    var maxTopics: Int
    /// How long a topic without a subscription to its name lives on (0: it is freed at once).
    var lingerMs: Int
    /// The most bytes all rings together hold (``Message/weight``).
    var maxHeldBytes: Int = .max
}

/// Where topics live, as the ``CommandCore`` and the loops see them: a store
/// attaches subscriptions (each gets a ``Cursor`` per concrete topic it reads,
/// woken through its ``CursorScheduler``), takes publishes, and answers for its
/// topics' figures. ``LocalTopicStore`` keeps everything in this process; a
/// store that spans several brokers implements the same requirements, and
/// sessions and the core do not change.
///
/// Guarantees every implementation gives:
/// - `publish` returns the number of subscriptions the message was queued for,
///   and every cursor of a matching subscription gets it in publish order, or a
///   lag count for it;
/// - after `unsubscribe` returns, no cursor of that subscription is woken again;
/// - memory per topic is bounded by its ring's capacity and byte bound;
/// - every message of a stream has the next sequence (1, 2, ...), and a new
///   topic object has an epoch no other stream had.
///
/// Any thread: the loops share one store.
protocol TopicStore: AnyObject, Sendable {
    /// Topics that exist now (approximate while others change it).
    var count: Int { get }
    /// Applies live settings; existing topics keep their ring.
    func update(_ settings: TopicStoreSettings)
    /// Publishes one message; `cache` is the caller's last topic, reused while valid
    /// (after the call it is the topic published to, or nil when the message's stream
    /// was made and freed at once: then ask ``makeEpoch()`` for the reply's epoch).
    /// `lineSafe`: whether the payload can be one line (nil: look). Without
    /// `createsStream` (the broker's own events), a topic nobody reads is not made.
    func publish(to name: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, lineSafe: Bool?,
                 cache: inout Topic?, createsStream: Bool) throws(TopicStoreError) -> PublishOutcome
    /// A fresh epoch, for a stream made and freed at once.
    func makeEpoch() -> [UInt8]
    /// The epoch token of `topic`'s stream.
    func epoch(of topic: Topic) -> [UInt8]
    /// Attaches a subscription to its topic (returning the stream's epoch and head when
    /// it became active) or, for a pattern, to every matching topic (returning nil).
    /// With a `group` name it joins that queue group of its string (made if needed):
    /// the group's members share one read position per topic.
    func subscribe(_ subscription: Subscription, start: SubscriptionStart, group: [UInt8]?) throws(TopicStoreError) -> StreamHead?
    /// The stream of a topic now, or nil when the topic does not exist.
    func head(of name: [UInt8]) -> StreamHead?
    /// Detaches a subscription and drops its cursors.
    func unsubscribe(_ subscription: Subscription)
    /// Frees topics whose linger ran out and that owe nothing; returns how many.
    @discardableResult
    func sweepLingering(nowMs: Int64) -> Int
    /// Drops a cursor whose ring was closed by a sweep. Call on its owning loop.
    func forget(_ cursor: Cursor)
    /// Runs `body` under the lock that guards subscriptions' cursor lists and cursors'
    /// receivers (another loop's publish may add a cursor or give one its receiver): for
    /// a loop that reads its own sessions' cursors without being woken by a ring.
    func withCursorsLocked<R>(_ body: () -> R) -> R
    /// One topic's figures now, or nil if no such topic exists.
    func statistics(of name: [UInt8]) -> TopicStatistics?
    /// Per-topic figures for the `limit` topics with the most subscribers or lag.
    func busiestTopics(limit: Int) -> [(name: [UInt8], figures: TopicStatistics)]
    /// Every topic's figures, in no particular order (one lock per topic).
    func allTopicFigures() -> [(name: [UInt8], figures: TopicStatistics)]
    /// Whether publishes and subscriptions are answered later, through
    /// ``publishLater(to:payload:lineSafe:answer:)`` and ``subscribeLater(_:start:group:answer:)``,
    /// rather than by the return of ``publish(to:payload:lineSafe:cache:createsStream:)`` and
    /// ``subscribe(_:start:group:)`` (a store whose order is kept by another process). The core
    /// then keeps each reply's place.
    var answersPublishesLater: Bool { get }
    /// Attaches a subscription whose outcome comes later: `answer` is called at most once, on
    /// the thread of the loop that called this, with what ``subscribe(_:start:group:)`` returns
    /// or why it failed; not at all when ``unsubscribe(_:)`` came first.
    func subscribeLater(_ subscription: Subscription, start: SubscriptionStart, group: [UInt8]?,
                        answer: @escaping (Result<StreamHead?, TopicStoreError>) -> Void)
    /// Publishes one message whose outcome comes later: `answer` is called once, on the
    /// thread of the loop that called this, with the receipt or why nothing was published.
    func publishLater(to name: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, lineSafe: Bool?,
                      answer: @escaping (Result<PublishReceipt, TopicStoreError>) -> Void)
}

extension TopicStore {
    /// Stores that answer at once (``LocalTopicStore``).
    var answersPublishesLater: Bool { false }

    func subscribeLater(_ subscription: Subscription, start: SubscriptionStart, group: [UInt8]?,
                        answer: @escaping (Result<StreamHead?, TopicStoreError>) -> Void) {
        answer(Result { () throws(TopicStoreError) in try subscribe(subscription, start: start, group: group) })
    }

    func publishLater(to name: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, lineSafe: Bool?,
                      answer: @escaping (Result<PublishReceipt, TopicStoreError>) -> Void) {
        var cache: Topic?
        do {
            let outcome = try publish(to: name, payload: payload, lineSafe: lineSafe, cache: &cache, createsStream: true)
            answer(.success(PublishReceipt(receivers: outcome.receivers, epoch: cache.map { epoch(of: $0) } ?? makeEpoch(),
                                           seq: outcome.seq)))
        } catch {
            answer(.failure(error))
        }
    }
}

extension LiveSettings {
    /// The part of the settings the topic store reads.
    var topicStore: TopicStoreSettings {
        TopicStoreSettings(ring: RingLimits(capacity: capacity, maxBytes: maxRingBytes), maxTopics: maxTopics, lingerMs: lingerMs,
                           maxHeldBytes: maxHeldBytes)
    }
}
