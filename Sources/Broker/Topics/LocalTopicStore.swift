// The topic store of one broker process: every topic's ring and every subscription, in memory.
import Channels
import Locks
import Protocol
import Synchronization

/// The local ``TopicStore``: the broker's topics (by name) and wildcard
/// subscriptions (a trie), behind one lock, in this process's memory.
///
/// Any thread. Structure changes (SUB, UNSUB, a topic created or freed) take
/// the lock; publishing to a topic a connection has looked up before does not
/// (see ``Topic/retired``). Lock order: the registry lock may be held while a
/// ring's lock is taken, never the reverse (rings call no registry code).
final class LocalTopicStore: TopicStore {
    private struct State: Sendable {
        var topics: [[UInt8]: Topic] = [:]
        var patterns = PatternIndex()
    }

    private let state = PthreadLock(State())
    /// Ring capacity for topics created from now on (a live setting).
    private let capacity: Atomic<Int>
    /// The most topics that may exist at once (a live setting).
    private let maxTopics: Atomic<Int>
    /// Number of topics, readable without the lock.
    private let topicCount = Atomic<Int>(0)

    init(capacity: Int, maxTopics: Int) {
        self.capacity = Atomic(capacity)
        self.maxTopics = Atomic(maxTopics)
    }

    /// A topic and its cursors refer to each other; a store dropped while
    /// subscriptions remain (a test, an embedder) unlinks them, so nothing leaks.
    deinit {
        state.withLock { state in
            for topic in state.topics.values {
                for cursor in topic.cursors { cursor.drop() }
            }
        }
    }

    /// Applies live settings; existing topics keep their ring.
    func update(capacity: Int, maxTopics: Int) {
        self.capacity.store(capacity, ordering: .relaxed)
        self.maxTopics.store(maxTopics, ordering: .relaxed)
    }

    /// The smallest ring of a `$` topic, whatever `capacity` says.
    static let systemTopicCapacity = 1024

    /// Topics that exist now.
    var count: Int { topicCount.load(ordering: .relaxed) }

    /// Publishes one message to `name`: through `cache` while it still names a
    /// live topic of that name, else through a lookup (which may create the topic
    /// for a matching pattern, and refreshes `cache`). Returns the receiver count.
    func publish(to name: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, cache: inout Topic?) throws(TopicStoreError) -> Int {
        var topic: Topic
        if let cached = cache, !cached.retired.isSet, cached.hasName(name) {
            topic = cached
        } else {
            guard let found = try topicForPublish(name) else {
                cache = nil
                return 0
            }
            topic = found
            cache = found
        }
        let message = Message.make(topic: name, payload: payload)
        var receivers = topic.sender.send(message)
        if receivers == 0 && topic.sender.isClosed {
            // A sweep freed the topic meanwhile: publish to the one made anew.
            if let fresh = try topicForPublish(name) {
                topic = fresh
                receivers = fresh.sender.send(message)
            }
            cache = topic
        }
        topic.published.add(1)
        return receivers
    }

    /// Attaches a new subscription: to its topic (created if needed, with a cursor
    /// for every pattern that matches it) or, for a pattern, to the index and to
    /// every existing topic it matches.
    func subscribe(_ subscription: Subscription) throws(TopicStoreError) {
        let result: Result<Void, TopicStoreError> = state.withLock { state in
            if subscription.isPattern {
                state.patterns.insert(subscription)
                for (name, topic) in state.topics where matches(subscription.pattern, name) {
                    subscription.attach(to: topic)
                }
                return .success(())
            }
            let existed = state.topics[subscription.pattern] != nil
            switch topic(named: subscription.pattern, in: &state) {
            case let .success(topic):
                if !existed {
                    // A new topic: the pattern subscriptions made earlier that match it read it too.
                    state.patterns.forEachMatch(subscription.pattern) { $0.attach(to: topic) }
                }
                subscription.attach(to: topic)
                return .success(())
            case let .failure(error):
                return .failure(error)
            }
        }
        try result.get()
    }

    /// Detaches a subscription, drops its cursors, and frees topics left without readers.
    func unsubscribe(_ subscription: Subscription) {
        state.withLock { state in
            if subscription.isPattern { state.patterns.remove(subscription) }
            for cursor in subscription.cursors {
                cursor.drop()
                if cursor.topic.receiverCount == 0 { retire(cursor.topic, in: &state) }
            }
            subscription.cursors.removeAll()
        }
    }

    /// Frees topics that only wildcard subscriptions keep open and that have
    /// nothing left to deliver: their rings close (so a publisher holding one
    /// looks the topic up again, and the topic is made anew, with a cursor for
    /// every matching pattern, at its next publish), the calling loop's cursors
    /// on them are dropped, and other loops' cursors drop themselves when they
    /// read `closed` (``forget(_:)``). Call on the loop that owns `subscriptions`.
    /// Returns how many topics were freed.
    func sweepIdleTopics(of subscriptions: [Subscription]) -> Int {
        state.withLock { state in
            var freed = 0
            for subscription in subscriptions where subscription.isPattern {
                var kept: [Cursor] = []
                for cursor in subscription.cursors {
                    let topic = cursor.topic
                    let onlyPatterns = !topic.cursors.contains { !$0.isPattern }
                    if onlyPatterns && topic.sender.closeIfDrained() {
                        if state.topics[topic.name] === topic { freed += 1 }
                        retire(topic, in: &state)
                        cursor.drop()
                    } else {
                        kept.append(cursor)
                    }
                }
                subscription.cursors = kept
            }
            return freed
        }
    }

    /// Drops a cursor whose ring was closed by a sweep. Call on its owning loop.
    func forget(_ cursor: Cursor) {
        state.withLock { state in
            cursor.drop()
            if let subscription = cursor.subscription {
                subscription.cursors.removeAll { $0 === cursor }
            }
            if cursor.topic.receiverCount == 0 { retire(cursor.topic, in: &state) }
        }
    }

    /// The topic to publish `name` to: an existing one, or a new one when a
    /// pattern subscription matches it; nil when nobody would receive it.
    func topicForPublish(_ name: UnsafeRawBufferPointer) throws(TopicStoreError) -> Topic? {
        let key = Array(name)
        let result: Result<Topic?, TopicStoreError> = state.withLock { state in
            if let topic = state.topics[key] { return .success(topic) }
            var matching: [Subscription] = []
            state.patterns.forEachMatch(key) { matching.append($0) }
            if matching.isEmpty { return .success(nil) }
            switch topic(named: key, in: &state) {
            case let .success(topic):
                for subscription in matching { subscription.attach(to: topic) }
                return .success(topic)
            case let .failure(error):
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// The topic called `name`, if it exists.
    func existingTopic(_ name: [UInt8]) -> Topic? {
        state.withLock { $0.topics[name] }
    }

    /// One topic's figures now, or nil if no such topic exists.
    func statistics(of name: [UInt8]) -> TopicStatistics? {
        state.withLock { state -> TopicStatistics? in
            guard let topic = state.topics[name] else { return nil }
            var figures = TopicStatistics(subscribers: 0, held: 0, published: topic.published.load, lagging: 0, maxLag: 0)
            for cursor in topic.cursors {
                guard let receiver = cursor.receiver else { continue }
                figures.subscribers += 1
                let lag = receiver.pendingCount
                if lag > 0 { figures.lagging += 1 }
                figures.maxLag = max(figures.maxLag, lag)
            }
            figures.held = min(figures.maxLag, topic.sender.capacity)
            return figures
        }
    }

    /// Per-topic figures for the `limit` topics with the most subscribers or lag.
    func busiestTopics(limit: Int) -> [(name: [UInt8], figures: TopicStatistics)] {
        guard limit > 0 else { return [] }
        let names = state.withLock { state in Array(state.topics.keys) }
        var all: [(name: [UInt8], figures: TopicStatistics)] = []
        for name in names {
            if let figures = statistics(of: name) { all.append((name, figures)) }
        }
        all.sort { ($0.figures.subscribers, $0.figures.maxLag) > ($1.figures.subscribers, $1.figures.maxLag) }
        var chosen = Array(all.prefix(limit))
        // Make room for the most lagged topics too, when they were not among the busiest.
        let byLag = all.sorted { $0.figures.maxLag > $1.figures.maxLag }.prefix(max(1, limit / 2))
        for entry in byLag where entry.figures.maxLag > 0 && !chosen.contains(where: { $0.name == entry.name }) {
            if chosen.count >= limit { chosen.removeLast() }
            chosen.append(entry)
        }
        return chosen
    }

    // MARK: - Under the lock

    private func topic(named name: [UInt8], in state: inout State) -> Result<Topic, TopicStoreError> {
        if let topic = state.topics[name] { return .success(topic) }
        let limit = maxTopics.load(ordering: .relaxed)
        if state.topics.count >= limit { return .failure(.tooManyTopics(limit: limit)) }
        do {
            var ringCapacity = capacity.load(ordering: .relaxed)
            // The broker's own topics keep at least 1024 events, so a burst of lag
            // reports is not itself lost to a tiny configured capacity.
            if name.first == Names.reservedPrefix { ringCapacity = max(ringCapacity, LocalTopicStore.systemTopicCapacity) }
            let topic = try Topic(name: name, capacity: ringCapacity)
            state.topics[name] = topic
            topicCount.store(state.topics.count, ordering: .relaxed)
            return .success(topic)
        } catch {
            // The capacity was validated by the configuration; fall back to the default.
            guard let topic = try? Topic(name: name, capacity: 1024) else { return .failure(.tooManyTopics(limit: limit)) }
            state.topics[name] = topic
            topicCount.store(state.topics.count, ordering: .relaxed)
            return .success(topic)
        }
    }

    private func retire(_ topic: Topic, in state: inout State) {
        guard let current = state.topics[topic.name], current === topic else { return }
        state.topics[topic.name] = nil
        topic.retired.set()
        topicCount.store(state.topics.count, ordering: .relaxed)
    }

    private func matches(_ pattern: [UInt8], _ topic: [UInt8]) -> Bool {
        pattern.withUnsafeBytes { p in topic.withUnsafeBytes { t in Names.matches(pattern: p, topic: t) } }
    }
}
