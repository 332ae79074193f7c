// The seam between the command core and where topics live.

/// Why a store refused a subscription or a publish.
enum TopicStoreError: Error, Equatable {
    /// Creating the topic would pass `max_topics`.
    case tooManyTopics(limit: Int)
}

/// One topic's figures (STATS <topic>): lag is tail − cursor, now.
struct TopicStatistics: Equatable {
    var subscribers: Int
    /// Messages the ring holds for somebody (the largest lag, at most the capacity).
    var held: Int
    var published: UInt64
    /// Subscriptions with at least one message not yet read.
    var lagging: Int
    /// The largest lag; above the capacity means that subscription will get LAGGED.
    var maxLag: Int
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
/// - memory per topic is bounded by its ring's capacity.
///
/// Any thread: the loops share one store.
protocol TopicStore: AnyObject, Sendable {
    /// Topics that exist now (approximate while others change it).
    var count: Int { get }
    /// Applies live settings; existing topics keep their ring.
    func update(capacity: Int, maxTopics: Int)
    /// Publishes one message; `cache` is the caller's last topic, reused while valid.
    func publish(to name: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, cache: inout Topic?) throws(TopicStoreError) -> Int
    /// Attaches a subscription to its topic or, for a pattern, to every matching topic.
    func subscribe(_ subscription: Subscription) throws(TopicStoreError)
    /// Detaches a subscription and drops its cursors.
    func unsubscribe(_ subscription: Subscription)
    /// Frees topics that only these pattern subscriptions keep and that have
    /// nothing left to deliver; returns how many. Call on the subscriptions' loop.
    func sweepIdleTopics(of subscriptions: [Subscription]) -> Int
    /// Drops a cursor whose ring was closed by a sweep. Call on its owning loop.
    func forget(_ cursor: Cursor)
    /// One topic's figures now, or nil if no such topic exists.
    func statistics(of name: [UInt8]) -> TopicStatistics?
    /// Per-topic figures for the `limit` topics with the most subscribers or lag.
    func busiestTopics(limit: Int) -> [(name: [UInt8], figures: TopicStatistics)]
}
