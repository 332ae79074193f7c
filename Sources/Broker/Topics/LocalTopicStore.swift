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
        var topics = TopicTable()
        var patterns = PatternIndex()
        /// Topics without a subscription to their own name: they live on for
        /// `linger_ms` after that began or after their last message.
        var lingering: [ObjectIdentifier: Linger] = [:]
        /// Counts topics that began to linger (their ``Linger/rank``).
        var lingerCount: UInt64 = 0
        /// Topics that began to linger without ever having had a message, oldest first from
        /// `emptyLingeringStart` (some may since have been freed, subscribed to again or
        /// published to: looked at when their turn comes, ``freeEmptyLingering(in:)``).
        var emptyLingering: [Topic] = []
        var emptyLingeringStart = 0
        /// Queue groups with at least one member.
        var groups: [GroupKey: QueueGroup] = [:]
        /// The group of each subscription that is in one (kept here rather than in
        /// every subscription: most are in none).
        var groupOf: [ObjectIdentifier: QueueGroup] = [:]
        /// The epoch number the next stream gets (its token: ``epochs``).
        var nextEpochNumber: UInt64 = 0
        /// Topics that are not freed while pinned (``pin(_:)``).
        var pinned: Set<ObjectIdentifier> = []
        /// Live settings (written by ``update(_:)``).
        var settings: TopicStoreSettings
        /// Whether freed topics are recorded for ``takeRetired()`` (``recordRetiredTopics()``).
        var recordsRetired = false
        /// Topics freed since ``takeRetired()`` last took them.
        var retired: [Topic] = []

        /// The topic called `name` (borrowed bytes), if it exists.
        func topic(named name: UnsafeRawBufferPointer) -> Topic? {
            topics.topic(named: name)
        }

        /// The next stream's epoch number, taken.
        mutating func takeEpochNumber() -> UInt64 {
            defer { nextEpochNumber &+= 1 }
            return nextEpochNumber
        }

        /// The queue group `subscription` is a member of, if any.
        func group(of subscription: Subscription) -> QueueGroup? {
            groupOf.isEmpty ? nil : groupOf[ObjectIdentifier(subscription)]
        }
    }

    private let state: PthreadLock<State>
    /// `max_held_bytes`, readable on the publish path without the lock.
    private let budgetBytes: Atomic<Int>
    /// Number of topics, readable without the lock.
    private let topicCount = Atomic<Int>(0)
    /// Bytes of messages every ring holds, together.
    let heldBytes = BroadcastByteAccount()
    /// Turns epoch numbers into tokens and back (immutable: the numbers are counted
    /// under the lock, in `State.nextEpochNumber`).
    private let epochs: EpochSource

    init(settings: TopicStoreSettings, epochSeed: UInt64) {
        state = PthreadLock(State(settings: settings))
        epochs = EpochSource(seed: epochSeed)
        budgetBytes = Atomic(settings.maxHeldBytes)
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

    /// The live settings now.
    var currentSettings: TopicStoreSettings { state.withLock { $0.settings } }

    /// Applies live settings; existing topics keep their ring.
    func update(_ settings: TopicStoreSettings) {
        state.withLock { $0.settings = settings }
        budgetBytes.store(settings.maxHeldBytes, ordering: .relaxed)
    }

    /// A new epoch for a stream that is made and freed at once (a publish nobody
    /// receives with `linger_ms 0`).
    func makeEpoch() -> [UInt8] {
        epochs.token(for: state.withLock { $0.takeEpochNumber() })
    }

    /// The epoch token of `topic`'s stream.
    func epoch(of topic: Topic) -> [UInt8] {
        epochs.token(for: topic.epochNumber)
    }

    /// The smallest ring of a `$` topic, whatever `capacity` says.
    static let systemTopicCapacity = 1024

    /// Topics that exist now.
    var count: Int { topicCount.load(ordering: .relaxed) }

    /// Publishes one message to `name`: through `cache` while it still names a
    /// live topic of that name, else through a lookup (which may create the topic
    /// for a matching pattern, and refreshes `cache`). Returns the receiver count.
    func publish(to name: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, lineSafe: Bool?,
                 cache: inout Topic?, createsStream: Bool = true) throws(TopicStoreError) -> PublishOutcome {
        // The topic is only ever borrowed from `cache` (no local copy of the reference):
        // each copy was a retain and a release, atomic, on every publish.
        if cache?.isRetired != false || cache?.hasName(name) != true {
            guard let found = try topicForPublish(name, createsStream: createsStream) else {
                cache = nil
                return PublishOutcome(receivers: 0, seq: 1)  // a stream made and freed at once
            }
            cache = found
        }
        // `cache` holds the topic for the whole send (nothing assigns it meanwhile): the
        // send borrows that reference instead of a copy of its own.
        var sent = Unmanaged.passUnretained(cache.unsafelyUnwrapped)._withUnsafeGuaranteedRef {
            send(name, payload, lineSafe, to: $0)
        }
        if sent.position == nil {
            // A sweep freed the topic meanwhile: publish to the one made anew.
            guard let fresh = try topicForPublish(name, createsStream: createsStream) else {
                cache = nil
                return PublishOutcome(receivers: 0, seq: 1)
            }
            cache = fresh
            sent = send(name, payload, lineSafe, to: cache.unsafelyUnwrapped)
        }
        if heldBytes.bytes > budgetBytes.load(ordering: .relaxed) { enforceBudget() }
        return PublishOutcome(receivers: sent.receivers, seq: (sent.position ?? 0) &+ 1)
    }

    /// Sends one message that the cluster engine ordered: into `topic`'s ring at its tail (the
    /// engine placed the tail first), and into each of `groupRings` (a queue group's ring of
    /// the messages given to this node, ``makeGroupRing(named:)``): one message, shared. Its
    /// version 2 frame is made first with `seq` when it goes to a group ring, whose positions
    /// are not sequences.
    func publishFromEngine(_ payload: UnsafeRawBufferPointer, seq: UInt64, to topic: Topic, groupRings: [Topic]) {
        let versionTwoRoom = topic.hasVersionTwoReaders || groupRings.contains { $0.hasVersionTwoReaders }
        let message = topic.name.withUnsafeBytes { name in
            Message.make(topic: name, payload: payload, lineSafe: nil, versionTwoRoom: versionTwoRoom)
        }
        let weight = message.weight
        if !groupRings.isEmpty {
            message.makeVersionTwoFrame(seq: seq)  // before any ring holds it: no reader yet
            for ring in groupRings {
                if !message.isLineSafe { ring.markCarriesMultiline() }
                _ = ring.sender.sendLocated(message, weight: weight)
            }
        }
        if !message.isLineSafe { topic.markCarriesMultiline() }
        if !topic.isRingOpen { openRing(of: topic) }
        _ = topic.sender.sendLocated(consume message, weight: weight)
        if heldBytes.bytes > budgetBytes.load(ordering: .relaxed) { enforceBudget() }
    }

    /// A ring named `name` that is not a topic of the store (no lookup finds it, no sweep frees
    /// it): a cluster queue group's messages on this node. Nil at `max_topics`. Its owner closes it.
    func makeGroupRing(named name: [UInt8]) -> Topic? {
        let ring = Topic(name: name, epochNumber: 0, limits: currentSettings.ring)
        guard ring.openRing(account: heldBytes) else { return nil }
        return ring
    }

    /// Attaches `subscription`, a member of queue group `group`, to `ring` (``makeGroupRing(named:)``),
    /// at its tail; it leaves with ``unsubscribe(_:)``.
    func subscribe(_ subscription: Subscription, toGroupRing ring: Topic, group name: [UInt8]) {
        state.withLock { state in
            let group = joinGroup(name, subscription, in: &state)
            attach(subscription, to: ring, group: group)
        }
    }

    /// Keeps `topic` from being freed (by linger, sweep or budget) until ``unpin(_:)``: a
    /// cluster topic whose queue groups here are fed from its stream.
    func pin(_ topic: Topic) {
        state.withLock { state in
            state.pinned.insert(ObjectIdentifier(topic))
            state.lingering[ObjectIdentifier(topic)] = nil
        }
    }

    /// Lets `topic` be freed again (it lingers from now when nothing else reads it).
    func unpin(_ topic: Topic) {
        state.withLock { state in
            guard state.pinned.remove(ObjectIdentifier(topic)) != nil else { return }
            if !topic.hasConcreteSubscription { startLingering(topic, in: &state) }
        }
    }

    /// Makes the message and moves it into `topic`'s ring (position nil: the ring was
    /// closed by a sweep, and the message dropped). A topic that gets a payload that
    /// cannot be one line is flagged before the send (version 1 readers check the
    /// flag after reading).
    @inline(__always)
    private func send(_ name: UnsafeRawBufferPointer, _ payload: UnsafeRawBufferPointer, _ lineSafe: Bool?,
                      to topic: Topic) -> (receivers: Int, position: UInt64?) {
        let message = Message.make(topic: name, payload: payload, lineSafe: lineSafe, versionTwoRoom: topic.hasVersionTwoReaders)
        if lineSafe != true && !message.isLineSafe { topic.markCarriesMultiline() }
        let weight = message.weight
        if !topic.isRingOpen { openRing(of: topic) }  // its first message
        return topic.sender.sendLocated(consume message, weight: weight)
    }

    /// Brings the bytes every ring holds back under nine tenths of `max_held_bytes`:
    /// first lingering streams go, those that began to linger first; then the oldest
    /// messages of the largest rings (subscribers still owed them get `LAGGED`).
    /// Runs on the publish that passed the budget; returns the bytes freed.
    @discardableResult
    func enforceBudget() -> Int {
        state.withLock { state in
            let target = state.settings.maxHeldBytes / 10 * 9
            let before = heldBytes.bytes
            if before <= target { return 0 }  // another publisher got here first
            freeLingering(in: &state) { heldBytes.bytes > target }
            if heldBytes.bytes > target {
                // The largest rings give up their oldest messages first, each down to the
                // size of the next largest, until enough is freed.
                var sizes = state.topics.values.map { ($0, $0.sender.positions.heldBytes) }.sorted { $0.1 > $1.1 }
                var index = 0
                while heldBytes.bytes > target && index < sizes.count {
                    let excess = heldBytes.bytes - target
                    let floor = index + 1 < sizes.count ? sizes[index + 1].1 : 0
                    // Trim rings 0...index down to `floor`, or by an even share of the excess.
                    let share = max(1, excess / (index + 1))
                    for k in 0...index {
                        let limit = max(floor, sizes[k].1 - share)
                        sizes[k].0.sender.trim(toBytes: limit)
                        sizes[k].1 = sizes[k].0.sender.positions.heldBytes
                    }
                    index += 1
                }
            }
            return before - heldBytes.bytes
        }
    }

    /// Attaches a new subscription: to its topic (created if needed, with a cursor
    /// for every pattern that matches it) or, for a pattern, to the index and to
    /// every existing topic it matches.
    func subscribe(_ subscription: Subscription, start: SubscriptionStart, group name: [UInt8]?) throws(TopicStoreError) -> StreamHead? {
        let result: Result<StreamHead?, TopicStoreError> = state.withLock { state in
            if let name { joinGroup(name, subscription, in: &state) }
            if subscription.isPattern {
                state.patterns.insert(subscription)
                let group = state.group(of: subscription)
                for topic in state.topics.values where matches(subscription.pattern, topic.name) {
                    attach(subscription, to: topic, group: group)
                }
                return .success(nil)
            }
            let existed = state.topics[subscription.pattern] != nil
            switch topic(named: subscription.pattern, in: &state) {
            case let .success(topic):
                if !existed {
                    // A new topic: the pattern subscriptions made earlier that match it read it too.
                    state.patterns.forEachMatch(subscription.pattern) {
                        attach($0, to: topic, group: state.group(of: $0))
                    }
                }
                stopLingering(topic, in: &state)
                let head = attach(subscription, to: topic, start: ringStart(start, of: topic),
                                  group: state.group(of: subscription))
                return .success(StreamHead(epoch: epoch(of: topic), head: head))
            case let .failure(error):
                leaveGroup(subscription, in: &state)
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Puts `subscription` in its queue group of name `name` (made if needed).
    @discardableResult
    private func joinGroup(_ name: [UInt8], _ subscription: Subscription, in state: inout State) -> QueueGroup {
        if let joined = state.groupOf[ObjectIdentifier(subscription)] { return joined }  // a member reading several rings
        let key = GroupKey(pattern: subscription.pattern, name: name)
        let group = state.groups[key] ?? QueueGroup(key: key)
        state.groups[key] = group
        group.members.append(subscription)
        state.groupOf[ObjectIdentifier(subscription)] = group
        return group
    }

    /// Takes `subscription` out of its queue group; the group ends with its last member.
    private func leaveGroup(_ subscription: Subscription, in state: inout State) {
        guard let group = state.group(of: subscription) else { return }
        state.groupOf[ObjectIdentifier(subscription)] = nil
        group.members.removeAll { $0 === subscription }
        if group.members.isEmpty { state.groups[group.key] = nil }
    }

    /// The stream of a topic now, or nil when the topic does not exist.
    func head(of name: [UInt8]) -> StreamHead? {
        state.withLock { state in
            guard let topic = state.topics[name] else { return nil }
            return StreamHead(epoch: epoch(of: topic), head: topic.sender.positions.tail)
        }
    }

    /// Detaches a subscription, drops its cursors, and frees topics left without readers.
    func unsubscribe(_ subscription: Subscription) {
        state.withLock { state in
            if subscription.isPattern { state.patterns.remove(subscription) }
            for cursor in subscription.cursors {
                cursor.drop()
                let topic = cursor.topic
                if topic.hasConcreteSubscription { continue }
                if state.settings.lingerMs == 0 && topic.cursors.isEmpty && topic.receiverCount == 0 {
                    retire(topic, in: &state)
                } else {
                    startLingering(topic, in: &state)
                }
            }
            subscription.cursors.removeAll()
            leaveGroup(subscription, in: &state)
        }
    }

    /// Frees the topics whose linger ran out (`linger_ms` after the later of their
    /// last subscription's end and their last message) and that owe no pattern
    /// subscription anything; their rings close, and the cursors still on them
    /// drop themselves when they read `closed` (``forget(_:)``). Any thread; the
    /// server calls it about every ``lingerSweepIntervalMs``. Returns how many were freed.
    @discardableResult
    func sweepLingering(nowMs: Int64) -> Int {
        state.withLock { state in
            let lingerMs = Int64(state.settings.lingerMs)
            var freed = 0
            for (key, var linger) in state.lingering {
                let topic = linger.topic
                let tail = topic.sender.positions.tail
                if tail != linger.seenTail {
                    linger.seenTail = tail
                    linger.sinceMs = nowMs
                    state.lingering[key] = linger
                }
                guard nowMs - linger.sinceMs >= lingerMs else { continue }
                if topic.sender.closeIfDrained() {
                    retire(topic, in: &state)
                    freed += 1
                }
            }
            return freed
        }
    }

    /// How often the linger sweep should run: a lingering topic is freed at most
    /// about this much plus the time a message takes to be noticed after its linger.
    static let lingerSweepIntervalMs: Int64 = 400

    func withCursorsLocked<R>(_ body: () -> R) -> R {
        state.withLock { _ in body() }
    }

    /// From now on, every topic freed is recorded until ``takeRetired()`` takes it: for a store
    /// that follows topics elsewhere (``RedisTopicStore`` lets go of a freed topic's Redis
    /// channel). A topic can be freed by a call about another one (the oldest lingering
    /// topics go when too many never had a message), and its waiting cursors leave their
    /// subscriptions then, so a subscription's cursors do not name every freed topic.
    func recordRetiredTopics() {
        state.withLock { $0.recordsRetired = true }
    }

    /// The topics freed since the last call (``recordRetiredTopics()``).
    func takeRetired() -> [Topic] {
        state.withLock { state in
            defer { state.retired.removeAll() }
            return state.retired
        }
    }

    /// Drops a cursor whose ring was closed by a sweep. Call on its owning loop.
    func forget(_ cursor: Cursor) {
        state.withLock { state in
            if let subscription = cursor.subscription {
                subscription.cursors.removeAll { $0 === cursor }
            }
            cursor.drop()
            if cursor.topic.receiverCount == 0 { retire(cursor.topic, in: &state) }
        }
    }

    /// The topic to publish `name` to: an existing one, or a new one (which lingers
    /// from its creation, with a cursor for every matching pattern subscription);
    /// nil when it would be freed at once (`linger_ms 0` and nobody to receive it).
    /// Without `createsStream` (the broker's own events) no topic is made for nobody;
    /// with `evenForNobody` one is made in every case (a store about to fill its ring and
    /// attach a subscription, ``RedisTopicStore``).
    func topicForPublish(_ name: UnsafeRawBufferPointer, createsStream: Bool = true,
                         evenForNobody: Bool = false) throws(TopicStoreError) -> Topic? {
        let result: Result<Topic?, TopicStoreError> = state.withLock { state in
            if let topic = state.topic(named: name) { return .success(topic) }
            let key = Array(name)
            var matching: [Subscription] = []
            state.patterns.forEachMatch(key) { matching.append($0) }
            if matching.isEmpty && !evenForNobody && (state.settings.lingerMs == 0 || !createsStream) { return .success(nil) }
            switch topic(named: key, in: &state) {
            case let .success(topic):
                for subscription in matching {
                    attach(subscription, to: topic, group: state.group(of: subscription))
                }
                startLingering(topic, in: &state)
                return .success(topic)
            case let .failure(error):
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Frees `topic` now, whoever still reads it: its ring closes (its cursors read what
    /// is left, then `closed`). For a stream that another process replaced (``RedisTopicStore``).
    func retireNow(_ topic: Topic) {
        state.withLock { state in retire(topic, in: &state, evenPinned: true) }
    }

    /// The topic called `name`, if it exists.
    func existingTopic(_ name: [UInt8]) -> Topic? {
        state.withLock { $0.topics[name] }
    }

    /// One topic's figures now, or nil if no such topic exists.
    func statistics(of name: [UInt8]) -> TopicStatistics? {
        state.withLock { state -> TopicStatistics? in
            state.topics[name].map(figures(of:))
        }
    }

    /// A topic's figures; under the store's lock (its cursor list changes under it).
    private func figures(of topic: Topic) -> TopicStatistics {
        let positions = topic.sender.positions
        var figures = TopicStatistics(subscribers: 0, held: Int(positions.tail &- positions.oldest),
                                      published: positions.tail, lagging: 0, maxLag: 0,
                                      epoch: epoch(of: topic), head: positions.tail, heldBytes: positions.heldBytes)
        for cursor in topic.cursors {  // a dropped cursor has left the list
            figures.subscribers += 1
            guard let receiver = cursor.receiver else { continue }  // waiting for the ring: nothing sent
            let lag = receiver.pendingCount
            if lag > 0 { figures.lagging += 1 }
            figures.maxLag = max(figures.maxLag, lag)
        }
        return figures
    }

    /// Topics whose figures are taken under one hold of the store's lock: publishers and
    /// subscribers on other loops wait at most that long for it.
    static let figuresPerLock = 256

    /// Every topic's figures, in no particular order: the topics as they are now, then their
    /// figures a few hundred at a time (no lookup by name).
    func allTopicFigures() -> [(name: [UInt8], figures: TopicStatistics)] {
        let entries = state.withLock { state in state.topics.values }
        var all: [(name: [UInt8], figures: TopicStatistics)] = []
        all.reserveCapacity(entries.count)
        var start = 0
        while start < entries.count {
            let end = min(entries.count, start + LocalTopicStore.figuresPerLock)
            state.withLock { _ in
                for topic in entries[start..<end] { all.append((topic.name, figures(of: topic))) }
            }
            start = end
        }
        return all
    }

    /// Per-topic figures for the `limit` topics with the most subscribers or lag.
    func busiestTopics(limit: Int) -> [(name: [UInt8], figures: TopicStatistics)] {
        guard limit > 0 else { return [] }
        var all = allTopicFigures()
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
        let limit = state.settings.maxTopics
        if state.topics.count >= limit && freeLingering(in: &state, limit: 1) == 0 { return .failure(.tooManyTopics(limit: limit)) }
        let made = Topic(name: name, epochNumber: state.takeEpochNumber(),
                         limits: LocalTopicStore.ringLimits(for: name, state.settings))
        state.topics.insert(made)
        topicCount.store(state.topics.count, ordering: .relaxed)
        return .success(made)
    }

    /// The bounds of a new ring for the topic `name`, by the settings now. The broker's
    /// own topics keep at least 1024 events, so a burst of lag reports is not itself lost
    /// to a tiny configured capacity.
    private static func ringLimits(for name: [UInt8], _ settings: TopicStoreSettings) -> RingLimits {
        var limits = settings.ring
        if name.first == Names.reservedPrefix { limits.capacity = max(limits.capacity, LocalTopicStore.systemTopicCapacity) }
        return limits
    }

    /// Opens `topic`'s ring if it has none yet (its cursors get their receivers). Under the lock.
    private func openRing(_ topic: Topic) {
        guard !topic.isRingOpen else { return }
        topic.openRing(account: heldBytes)
    }

    /// Opens `topic`'s ring before a message goes into it: the first publish to a topic
    /// (or one the cluster engine places), off the hot path. Takes the lock.
    @inline(never)
    func openRing(of topic: Topic) {
        state.withLock { _ in openRing(topic) }
    }

    /// Attaches `subscription` to `topic` (a queue group member opens the ring first: its
    /// group reads through one receiver). Under the lock. Returns the head (``Subscription/attach(to:start:group:)``).
    @discardableResult
    private func attach(_ subscription: Subscription, to topic: Topic, start: BroadcastStart = .tail, group: QueueGroup?) -> UInt64 {
        if group != nil { openRing(topic) }
        return subscription.attach(to: topic, start: start, group: group)
    }

    /// Where a subscription to `topic` starts in its ring: `from=` is honored only
    /// with this stream's epoch.
    private func ringStart(_ start: SubscriptionStart, of topic: Topic) -> BroadcastStart {
        switch start {
        case .next: .tail
        case let .after(wanted, seq): epochs.number(of: wanted) == topic.epochNumber ? .position(seq) : .tail
        case let .last(count): .last(count)
        case let .position(position): .position(position)
        }
    }

    /// Frees lingering topics that owe nothing, those that began to linger first
    /// first, at most `limit` and while `wanted()` holds; returns how many.
    @discardableResult
    private func freeLingering(in state: inout State, limit: Int = .max, while wanted: () -> Bool = { true }) -> Int {
        var freed = 0
        for topic in state.lingering.values.sorted(by: { $0.rank < $1.rank }).map(\.topic) {
            guard freed < limit, wanted() else { break }
            if topic.sender.closeIfDrained() {
                retire(topic, in: &state)
                freed += 1
            }
        }
        return freed
    }

    private func startLingering(_ topic: Topic, in state: inout State) {
        guard state.topics[topic.name] === topic, state.lingering[ObjectIdentifier(topic)] == nil,
              state.pinned.isEmpty || !state.pinned.contains(ObjectIdentifier(topic)) else { return }
        state.lingerCount += 1
        let tail = topic.sender.positions.tail
        state.lingering[ObjectIdentifier(topic)] = Linger(
            topic: topic, sinceMs: monotonicMilliseconds(), seenTail: tail, rank: state.lingerCount)
        if tail == 0 {
            state.emptyLingering.append(topic)
            freeEmptyLingering(in: &state)
        }
    }

    /// The most streams that never had a message kept lingering: past it the oldest of them
    /// are freed (PROTOCOL.md lets the broker free a lingering stream early when it needs the
    /// memory). Such a stream has nothing to resume; a client that comes back with its
    /// position `<epoch>:0` finds a new epoch at head 0 and has missed nothing. Bounds what
    /// clients that subscribe to a new topic each and leave (connection churn) leave behind.
    static let emptyLingeringLimit = 4096

    /// Frees the oldest lingering streams that never had a message while more than
    /// ``emptyLingeringLimit`` were queued; skips those that no longer linger or have had
    /// a message since (they are only dropped from the queue).
    private func freeEmptyLingering(in state: inout State) {
        while state.emptyLingering.count - state.emptyLingeringStart > LocalTopicStore.emptyLingeringLimit {
            let topic = state.emptyLingering[state.emptyLingeringStart]
            state.emptyLingeringStart += 1
            if state.lingering[ObjectIdentifier(topic)] != nil, topic.sender.positions.tail == 0, topic.sender.closeIfDrained() {
                retire(topic, in: &state)
            }
        }
        // The queue's taken front is dropped once it is most of the array.
        if state.emptyLingeringStart >= 1024, state.emptyLingeringStart * 2 >= state.emptyLingering.count {
            state.emptyLingering.removeFirst(state.emptyLingeringStart)
            state.emptyLingeringStart = 0
        }
    }

    private func stopLingering(_ topic: Topic, in state: inout State) {
        state.lingering[ObjectIdentifier(topic)] = nil
    }

    private func retire(_ topic: Topic, in state: inout State, evenPinned: Bool = false) {
        if !state.pinned.isEmpty, state.pinned.contains(ObjectIdentifier(topic)) {
            guard evenPinned else { return }
            state.pinned.remove(ObjectIdentifier(topic))
        }
        state.lingering[ObjectIdentifier(topic)] = nil
        guard let current = state.topics[topic.name], current === topic else { return }
        state.topics.remove(named: topic.name)
        if state.recordsRetired { state.retired.append(topic) }
        topic.markRetired()
        topic.sender.close()
        // Cursors still waiting for a ring that will not come had nothing to read: they go now
        // (those with a receiver read `closed` and go through ``forget(_:)``).
        for cursor in topic.cursors where cursor.isAwaitingRing {
            cursor.subscription?.cursors.removeAll { $0 === cursor }
            cursor.drop()
        }
        topicCount.store(state.topics.count, ordering: .relaxed)
    }

    private func matches(_ pattern: [UInt8], _ topic: [UInt8]) -> Bool {
        pattern.withUnsafeBytes { p in topic.withUnsafeBytes { t in Names.matches(pattern: p, topic: t) } }
    }
}

/// A topic that lingers: no subscription to its name reads it (kept by the store,
/// so a topic that does not linger pays nothing for it). Under the registry's lock.
private struct Linger {
    let topic: Topic
    /// When the linger began, or the last message the sweep noticed, in monotonic ms.
    var sinceMs: Int64
    /// The ring's tail when the sweep last looked.
    var seenTail: UInt64
    /// Orders lingering topics by when they began to linger, within one millisecond too.
    let rank: UInt64
}
