// The cluster engine's topic store: Redis orders every publish and holds the streams; this node's rings cache the streams its clients read.
import Channels
import Protocol
import RESP

/// The ``TopicStore`` of a broker with `engine redis://...` (docs/cluster.md).
///
/// Every publish runs ``StreamScript`` in Redis, which gives the message its topic's next
/// sequence, appends it to the topic's stream and sends it to the nodes on the topic's
/// channel; the publish is answered when Redis has answered (``answersPublishesLater``).
/// A node follows (Redis `SUBSCRIBE`s) the topics its clients subscribe to, and `PSUBSCRIBE`s
/// their patterns; what comes goes through each topic's ``StreamFollower`` into the local ring
/// (a ``LocalTopicStore`` topic) at the position its sequence names, so every node writes the
/// same sequences, gaps back-filled from the stream or counted as `LAGGED`.
///
/// Guarantees, beyond ``TopicStore``'s:
/// - a publish is answered `OK` only when Redis ran the script; otherwise
///   ``TopicStoreError/engineUnavailable(_:)``, with whether the message may have been published;
/// - a subscription to a concrete topic is answered once this node receives every message
///   after the head it reports (`SUBSCRIBE` and the read of the stream go on one connection,
///   in that order); its ring then holds what the stream holds;
/// - a node's Redis subscriptions follow its clients: a topic's channel is let go when its
///   local topic is freed (``LocalTopicStore``'s linger rules), a pattern with its last subscription;
/// - a stream that Redis replaced (its keys were lost: a new epoch) is never passed off as the
///   old one: this node's concrete subscribers of it get `BYE stream-reset` (``onStreamReset``),
///   and the ring starts again from the new stream.
///
/// Loop thread only: the engine runs on the one event loop of a broker with this engine
/// (`threads` is 1), as its ``RedisConnection`` does.
final class RedisTopicStore: TopicStore, @unchecked Sendable {
    // @unchecked Sendable: every method runs on the loop's thread (the protocol is
    // Sendable because the local store is shared by loops; this one has one loop).

    /// Names in Redis begin with this (``RedisTopicKeys``).
    static let keyPrefix: [UInt8] = Array("broker:".utf8)

    /// The rings (this node's cache of the streams) and the subscriptions.
    let local: LocalTopicStore
    /// The one connection to Redis: scripts, reads and this node's Pub/Sub subscriptions.
    let connection: RedisConnection
    /// Called with the connection tokens of sessions to end with `BYE stream-reset` (their
    /// concrete subscription's stream was replaced) and the text to give them.
    var onStreamReset: ([UInt64], String) -> Void = { _, _ in }
    /// Called with true when Redis becomes reachable, false when it is lost.
    var onAvailabilityChange: (Bool) -> Void = { _ in }

    private let logger: Logger
    /// Candidate epochs: unique per publish (a stream Redis makes takes one of them).
    private var candidates: EpochSource
    /// The topics this node follows, by name.
    private var followed: [[UInt8]: FollowedTopic] = [:]
    /// Redis patterns this node is `PSUBSCRIBE`d to, and how many local pattern subscriptions each serves.
    private var patternUsers: [[UInt8]: Int] = [:]
    /// Publishes of this loop turn not sent yet, by topic, and the topics in the order they came.
    private var outgoing: [[UInt8]: OutgoingBatch] = [:]
    private var outgoingOrder: [[UInt8]] = []
    /// This node's name in Redis (queue group registrations).
    let nodeID: [UInt8]
    /// When the last failed attempt to reach Redis was logged (monotonic ms).
    private var lastAttemptLogMs: Int64 = .min / 2
    /// The loop's reactor (timers).
    private unowned(unsafe) let reactor: Reactor
    /// The queue group each concrete group member here is in (for its leaving).
    private var memberGroup: [ObjectIdentifier: [UInt8]] = [:]
    /// Queue groups of patterns with members here, by ``PatternGroup/key``.
    private var patternGroups: [[UInt8]: PatternGroup] = [:]
    /// The pattern group each of its members here is in.
    private var patternMember: [ObjectIdentifier: [UInt8]] = [:]
    /// Subscriptions whose answer has not been given yet: the topic they wait for (concrete)
    /// or nil (a pattern waiting for its `PSUBSCRIBE` to be in effect).
    private var waiting: [ObjectIdentifier: [UInt8]?] = [:]

    init(local: LocalTopicStore, reactor: Reactor, connection: RedisConnection, logger: Logger, epochSeed: UInt64) {
        self.local = local
        local.recordRetiredTopics()
        self.reactor = reactor
        self.connection = connection
        self.logger = logger
        candidates = EpochSource(seed: epochSeed)
        nodeID = Array(EpochSource(seed: UInt64.random(in: .min ... .max)).token(for: 0).dropLast())
        connection.onPush = { [unowned self] push in receive(push) }
        connection.onStateChange = { [unowned self] ready in availabilityChanged(ready) }
        connection.onAttemptFailed = { [unowned self] reason in
            // At most one line a second while Redis stays out of reach.
            let now = monotonicMilliseconds()
            guard now - lastAttemptLogMs >= 1000 else { return }
            lastAttemptLogMs = now
            logger.warn("cannot reach Redis at \(connection.endpoint.host):\(connection.endpoint.port): \(reason); trying again")
        }
    }

    /// Starts connecting to Redis (on the loop).
    func start() {
        connection.start()
        renewRegistrationsLater()
    }

    /// Closes the connection (on the loop, as it ends).
    func stop() { connection.close() }

    // MARK: - TopicStore

    var count: Int { local.count }

    func update(_ settings: TopicStoreSettings) { local.update(settings) }

    var answersPublishesLater: Bool { true }

    func makeEpoch() -> [UInt8] { candidates.next() }

    func epoch(of topic: Topic) -> [UInt8] {
        if let epoch = followed[topic.name]?.follower.epoch { return epoch }
        return local.epoch(of: topic)
    }

    /// The broker's own events (`$` topics are per node): into the local store. Other topics
    /// are published through ``publishLater(to:payload:lineSafe:answer:)``.
    func publish(to name: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, lineSafe: Bool?,
                 cache: inout Topic?, createsStream: Bool) throws(TopicStoreError) -> PublishOutcome {
        guard name.first == Names.reservedPrefix else {
            throw .engineUnavailable("publishes to the cluster are answered by Redis, later")
        }
        return try local.publish(to: name, payload: payload, lineSafe: lineSafe, cache: &cache, createsStream: createsStream)
    }

    /// Takes a publish into its topic's batch of this loop turn (sent by ``flushPublishes()``
    /// at the turn's end, or at once when the batch is full): one script run per topic per turn.
    func publishLater(to name: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, lineSafe: Bool?,
                      answer: @escaping (Result<PublishReceipt, TopicStoreError>) -> Void) {
        guard connection.isReady else {
            answer(.failure(.engineUnavailable("Redis is unreachable (\(connection.lastFailure)): nothing was published")))
            return
        }
        let key = Array(name)
        let pending: OutgoingBatch
        if let existing = outgoing[key] {
            pending = existing
        } else {
            pending = OutgoingBatch()
            outgoing[key] = pending
            outgoingOrder.append(key)
        }
        pending.batch.append(payload)
        pending.answers.append(answer)
        if pending.batch.count >= RedisTopicStore.batchMessages || pending.batch.bytes.count >= RedisTopicStore.batchBytes {
            send(key)
        }
    }

    /// The most messages, and about the most bytes, one script run carries.
    static let batchMessages = 1024
    static let batchBytes = 1 << 20

    /// Sends the batches of this loop turn (the loop calls it at the end of each turn).
    func flushPublishes() {
        guard !outgoingOrder.isEmpty else { return }
        for key in outgoingOrder { send(key) }
        outgoingOrder.removeAll(keepingCapacity: true)
    }

    /// Runs the publish script for `key`'s batch; each publish is answered with its own sequence.
    private func send(_ key: [UInt8]) {
        guard let pending = outgoing.removeValue(forKey: key) else { return }
        let answers = pending.answers
        let settings = local.currentSettings
        let command = StreamScript.publish(pending.batch, keys: RedisTopicKeys(prefix: RedisTopicStore.keyPrefix, topic: key),
                                           capacity: settings.ring.capacity, candidateEpoch: candidates.next(), lingerMs: settings.lingerMs)
        connection.send(command) { [weak self] result in
            let failure: TopicStoreError
            switch result {
            case let .success(reply):
                if let published = StreamScript.published(from: reply) {
                    for (offset, answer) in answers.enumerated() {
                        answer(.success(PublishReceipt(receivers: published.nodes, epoch: published.epoch,
                                                       seq: published.seq + UInt64(offset))))
                    }
                    return
                }
                if StreamScript.isNoScript(reply) {
                    self?.loadScripts()
                    failure = .engineUnavailable("Redis did not have the publish script (it is loaded again): nothing was published")
                } else {
                    failure = .engineUnavailable("Redis refused the publish \(RedisConnection.describe(reply)): nothing was published")
                }
            case let .failure(.unavailable(reason)):
                failure = .engineUnavailable("Redis is unreachable (\(reason)): nothing was published")
            case let .failure(.connectionLost(reason)):
                failure = .engineUnavailable(
                    "the connection to Redis was lost (\(reason)) before it answered: the message may or may not have been published")
            }
            for answer in answers { answer(.failure(failure)) }
        }
    }

    /// A subscription that needs no Redis round trip: a `$` topic or pattern (per node), or a
    /// topic this node already follows. Anything else must go through ``subscribeLater(_:start:group:answer:)``.
    func subscribe(_ subscription: Subscription, start: SubscriptionStart, group: [UInt8]?) throws(TopicStoreError) -> StreamHead? {
        if subscription.pattern.first == Names.reservedPrefix {
            return try local.subscribe(subscription, start: start, group: group)
        }
        guard !subscription.isPattern, let entry = followed[subscription.pattern], entry.isLive else {
            throw .engineUnavailable("this subscription needs Redis: it is answered later")
        }
        return try attach(subscription, start: start, group: group, to: entry)
    }

    func subscribeLater(_ subscription: Subscription, start: SubscriptionStart, group: [UInt8]?,
                        answer: @escaping (Result<StreamHead?, TopicStoreError>) -> Void) {
        if subscription.pattern.first == Names.reservedPrefix {
            answer(Result { () throws(TopicStoreError) in try local.subscribe(subscription, start: start, group: group) })
            return
        }
        guard connection.isReady else {
            answer(.failure(.engineUnavailable("Redis is unreachable (\(connection.lastFailure)): not subscribed")))
            return
        }
        if subscription.isPattern {
            subscribeToPattern(subscription, group: group, answer: answer)
            return
        }
        let name = subscription.pattern
        if let entry = followed[name], entry.isLive, entry.viaChannel {
            attach(subscription, start: start, group: group, to: entry, answer: answer)
            return
        }
        let entry = followed[name] ?? FollowedTopic(name: name)
        followed[name] = entry
        waiting[ObjectIdentifier(subscription)] = name
        entry.waiters.append(FollowedTopic.Waiter(subscription: subscription, start: start, group: group, answer: answer))
        if entry.reading { return }  // its stream is being read: the answer comes with it
        entry.viaChannel = true
        connection.sendWithoutReply([Array("SUBSCRIBE".utf8), entry.keys.channel])
        if entry.isLive {
            // Followed through a pattern until now: once the SUBSCRIBE is in effect, read what was missed.
            catchUp(entry)
        } else {
            read(entry, after: 0)
        }
    }

    func head(of name: [UInt8]) -> StreamHead? {
        guard var head = local.head(of: name) else { return nil }
        if let epoch = followed[name]?.follower.epoch { head.epoch = epoch }
        return head
    }

    func unsubscribe(_ subscription: Subscription) {
        let key = ObjectIdentifier(subscription)
        if let awaited = waiting.removeValue(forKey: key) {
            if let name = awaited {
                followed[name]?.waiters.removeAll { $0.subscription === subscription }
                return  // never attached
            }
        }
        local.unsubscribe(subscription)
        if let group = memberGroup.removeValue(forKey: key) { leave(group, of: subscription.pattern) }
        if let groupKey = patternMember.removeValue(forKey: key) { leavePatternGroup(groupKey, subscription) }
        if subscription.isPattern, subscription.pattern.first != Names.reservedPrefix {
            let glob = RedisTopicStore.channelPattern(for: subscription.pattern)
            let users = (patternUsers[glob] ?? 1) - 1
            patternUsers[glob] = users > 0 ? users : nil
            if users <= 0 { connection.sendWithoutReply([Array("PUNSUBSCRIBE".utf8), glob]) }
        }
        unfollowRetired()
    }

    /// Lets go of the Redis channels of every topic the local store freed since the last call
    /// (every topic it frees is recorded: the one way this store learns of them).
    private func unfollowRetired() {
        for topic in local.takeRetired() { unfollow(topic) }
    }

    @discardableResult
    func sweepLingering(nowMs: Int64) -> Int {
        let freed = local.sweepLingering(nowMs: nowMs)
        unfollowRetired()
        if freed > 0 {  // and again those a waiter or a group ring kept followed when they were freed
            for entry in Array(followed.values) { if let topic = entry.topic, topic.isRetired { unfollow(topic) } }
        }
        return freed
    }

    func withCursorsLocked<R>(_ body: () -> R) -> R { local.withCursorsLocked(body) }

    func forget(_ cursor: Cursor) {
        local.forget(cursor)
        unfollowRetired()
    }

    func statistics(of name: [UInt8]) -> TopicStatistics? {
        guard var figures = local.statistics(of: name) else { return nil }
        if let epoch = followed[name]?.follower.epoch { figures.epoch = epoch }
        return figures
    }

    func allTopicFigures() -> [(name: [UInt8], figures: TopicStatistics)] {
        local.allTopicFigures().map { entry in
            var figures = entry.figures
            if let epoch = followed[entry.name]?.follower.epoch { figures.epoch = epoch }
            return (entry.name, figures)
        }
    }

    func busiestTopics(limit: Int) -> [(name: [UInt8], figures: TopicStatistics)] {
        local.busiestTopics(limit: limit).map { entry in
            var figures = entry.figures
            if let epoch = followed[entry.name]?.follower.epoch { figures.epoch = epoch }
            return (entry.name, figures)
        }
    }

    /// Topics followed now (for tests and figures).
    var followedCount: Int { followed.count }

    // MARK: - Following

    /// Attaches `subscription` to the live ring of `entry`: `from=` is honored when its epoch
    /// is the stream's and its sequence at most the head. A queue group member attaches to
    /// its group's ring on this node (``join(_:_:of:)``).
    private func attach(_ subscription: Subscription, start: SubscriptionStart, group: [UInt8]?,
                        to entry: FollowedTopic) throws(TopicStoreError) -> StreamHead? {
        if let group { return try join(group, subscription, of: entry) }
        var resolved = start
        if case let .after(epoch, seq) = start {
            resolved = epoch == entry.follower.epoch && seq <= entry.follower.last ? .position(seq) : .next
        }
        guard var head = try local.subscribe(subscription, start: resolved, group: nil) else { return nil }
        if let epoch = entry.follower.epoch { head.epoch = epoch }
        return head
    }

    /// Attaches and answers; a queue group's first member here is answered once Redis has its
    /// registration (a publish after the reply then gives the group's batches to this node too).
    private func attach(_ subscription: Subscription, start: SubscriptionStart, group: [UInt8]?, to entry: FollowedTopic,
                        answer: @escaping (Result<StreamHead?, TopicStoreError>) -> Void) {
        let firstHere = group.map { entry.groupRings[$0] == nil } ?? false
        let result = Result { () throws(TopicStoreError) in try attach(subscription, start: start, group: group, to: entry) }
        guard firstHere, let group, case .success = result else {
            answer(result)
            return
        }
        register(group, of: entry) { _ in answer(result) }
    }

    /// Reads the stream of `entry` after `after` (0: all it holds) and hands what it holds to
    /// the ring; then answers the waiting subscriptions.
    private func read(_ entry: FollowedTopic, after: UInt64) {
        entry.follower.pause()
        entry.reading = true
        let settings = local.currentSettings
        let command = StreamReadScript.read(entry.keys, after: after, count: settings.ring.capacity,
                                            candidateEpoch: candidates.next(), ttlMs: settings.lingerMs + RedisTopicStore.followerTTLSlackMs)
        connection.send(command) { [weak self, weak entry] result in
            guard let self, let entry, followed[entry.name] === entry else { return }
            entry.reading = false
            guard case let .success(reply) = result, let state = StreamReadScript.state(from: reply) else {
                let reason = switch result {
                case let .failure(failure): failure.description
                case let .success(reply): "Redis answered the read of the stream \(RedisConnection.describe(reply))"
                }
                readFailed(entry, reason)
                return
            }
            caughtUp(entry, state)
        }
    }

    /// After a pause (a reconnect, a failed fetch, a pattern-followed topic now subscribed):
    /// reads what came after the last sequence handed on.
    private func catchUp(_ entry: FollowedTopic) {
        read(entry, after: entry.follower.last)
    }

    private func readFailed(_ entry: FollowedTopic, _ reason: String) {
        let waiters = entry.waiters
        entry.waiters = []
        for waiter in waiters {
            waiting[ObjectIdentifier(waiter.subscription)] = nil
            waiter.answer(.failure(.engineUnavailable("Redis could not be read (\(reason)): not subscribed")))
        }
        if entry.topic == nil {
            // Never started: forget it (a reconnect would not know what to catch up from).
            followed[entry.name] = nil
            if entry.viaChannel && connection.isReady {
                connection.sendWithoutReply([Array("UNSUBSCRIBE".utf8), entry.keys.channel])
            }
        }
        // A started one stays paused; the reconnect catches it up.
    }

    /// The stream's state after a read: the ring gets its messages, then the waiters attach.
    private func caughtUp(_ entry: FollowedTopic, _ state: StreamReadScript.State) {
        switch entry.follower.caughtUp(epoch: state.epoch, head: state.head, entries: state.entries) {
        case .restart:
            restart(entry)
        case let .outcomes(outcomes, thenFetch):
            if entry.topic == nil || entry.topic?.isRetired == true {
                guard let topic = freshRing(entry.name, evenForNobody: true) else {
                    readFailed(entry, "no local topic could be made")
                    return
                }
                entry.topic = topic
                if !entry.groupRings.isEmpty { local.pin(topic) }  // it feeds the groups' rings here
            }
            hand(outcomes, to: entry)
            if let after = thenFetch { fetch(entry, after: after) }
            let waiters = entry.waiters
            entry.waiters = []
            for waiter in waiters {
                waiting[ObjectIdentifier(waiter.subscription)] = nil
                attach(waiter.subscription, start: waiter.start, group: waiter.group, to: entry, answer: waiter.answer)
            }
        }
    }

    /// Redis replaced the stream (another epoch): concrete subscribers here are ended with
    /// `BYE stream-reset`, the ring is freed, and the new stream is read from its start.
    private func restart(_ entry: FollowedTopic) {
        let epoch = entry.follower.epoch.map { String(decoding: $0, as: UTF8.self) } ?? "?"
        if let topic = entry.topic {
            // Concrete subscribers, queue group members included, cannot go on: their sequences would go back.
            let tokens = local.withCursorsLocked {
                (topic.cursors.filter { !$0.isPattern } + entry.groupRings.values.flatMap { $0.cursors })
                    .compactMap { $0.subscription?.connectionToken }
            }
            logger.warn("the stream of \(String(decoding: entry.name, as: UTF8.self)) was replaced in Redis (new epoch \(epoch)): "
                        + "\(tokens.count) subscription(s) ended with BYE stream-reset")
            if !tokens.isEmpty {
                onStreamReset(tokens, "the stream of \(String(decoding: entry.name, as: UTF8.self)) was replaced (epoch \(epoch)): resume with from=")
            }
            local.retireNow(topic)
            entry.topic = nil
        }
        entry.follower = StreamFollower()
        read(entry, after: 0)
    }

    /// A ring for `name` that starts empty at position 0 (a stale one is freed first); nil
    /// when nobody here reads it and `evenForNobody` is false.
    private func freshRing(_ name: [UInt8], evenForNobody: Bool) -> Topic? {
        func made() -> Topic? {
            let topic: Topic?? = name.withUnsafeBytes { bytes in
                try? local.topicForPublish(bytes, createsStream: evenForNobody, evenForNobody: evenForNobody)
            }
            return topic ?? nil
        }
        guard let topic = made() else { return nil }
        guard topic.sender.positions.tail != 0 else { return topic }
        local.retireNow(topic)  // a stale ring: one that starts at 0 takes its place
        return made()
    }

    /// Moves the follower's outcomes into the ring: each message at the position its sequence
    /// names (ring position = sequence − 1), what was lost as a skip (subscribers behind it get `LAGGED`).
    private func hand(_ outcomes: [StreamFollower.Outcome], to entry: FollowedTopic) {
        guard let topic = entry.topic, !topic.isRetired else { return }
        for outcome in outcomes {
            switch outcome {
            case let .lost(count):
                skip(topic, to: topic.sender.positions.tail + count)
            case let .message(message):
                deliver(message, to: topic, of: entry)
            }
        }
    }

    /// Moves `topic`'s ring to `position` (``BroadcastSender/skip(to:)``), opening the ring
    /// first: a topic has none until its first message, and a skip is that stream's start.
    private func skip(_ topic: Topic, to position: UInt64) {
        if !topic.isRingOpen { local.openRing(of: topic) }
        topic.sender.skip(to: position)
    }

    /// One message into the ring at the position its sequence names (what came before it and
    /// was not handed on is skipped: subscribers behind get `LAGGED`), and into the ring of each
    /// queue group here that the message's batch was given to (or that no node was given:
    /// then every node's members may have it, rather than none).
    private func deliver(_ message: ChannelMessage, to topic: Topic, of entry: FollowedTopic) {
        let position = message.seq - 1
        let tail = topic.sender.positions.tail
        if tail > position { return }  // already in the ring (the follower hands each sequence once)
        if tail < position { skip(topic, to: position) }
        if !patternGroups.isEmpty { addPatternGroupRings(to: entry) }
        var rings: [Topic] = []
        for (group, ring) in entry.groupRings {
            let node = message.node(for: group)
            if PatternGroup.isKey(group) {
                // A pattern's group: this node's only when the script gave it the batch (the
                // first member here registered before its SUB was answered).
                guard let node, node.elementsEqual(nodeID) else { continue }
            } else if let node, !node.elementsEqual(nodeID) {
                continue
            }
            rings.append(ring)
        }
        message.payload.withUnsafeBytes { payload in
            local.publishFromEngine(payload, seq: message.seq, to: topic, groupRings: rings)
        }
    }

    /// What Redis pushes: messages of followed channels and patterns (confirmations are ignored).
    private func receive(_ push: RESPValue) {
        guard let items = push.elements, let kind = items.first?.bytes else { return }
        let channel: [UInt8]
        let data: [UInt8]
        let viaPattern: Bool
        if kind == Array("message".utf8), items.count == 3, let c = items[1].bytes, let d = items[2].bytes {
            (channel, data, viaPattern) = (c, d, false)
        } else if kind == Array("pmessage".utf8), items.count == 4, let c = items[2].bytes, let d = items[3].bytes {
            (channel, data, viaPattern) = (c, d, true)
        } else {
            return
        }
        guard let name = RedisTopicStore.topicName(ofChannel: channel), let messages = ChannelMessage.parseBatch(data),
              let first = messages.first else {
            logger.warn("a message from Redis that is not the engine's, on \(String(decoding: channel.prefix(80), as: UTF8.self))")
            return
        }
        if let entry = followed[name] {
            guard entry.topic != nil else { return }  // being read: the read covers it
            for message in messages { step(entry, entry.follower.receive(message)) }
            return
        }
        let forGroups = patternGroups.values.contains { $0.matches(name) }
        guard viaPattern, let topic = freshRing(name, evenForNobody: forGroups) else { return }
        // A topic that only patterns here read: followed from this batch on.
        let entry = FollowedTopic(name: name)
        entry.follower = StreamFollower(epoch: first.epoch, last: first.seq - 1)
        entry.topic = topic
        followed[name] = entry
        if first.seq > 1 { skip(topic, to: first.seq - 1) }
        for message in messages { step(entry, entry.follower.receive(message)) }
    }

    private func step(_ entry: FollowedTopic, _ next: FollowerStep) {
        switch next {
        case let .deliver(messages):
            guard let topic = entry.topic, !topic.isRetired else { return }
            for message in messages { deliver(message, to: topic, of: entry) }
        case .wait:
            break
        case let .fetch(after):
            fetch(entry, after: after)
        case .restart:
            restart(entry)
        }
    }

    /// Back-fills a gap from the stream (`XRANGE`); a failed read pauses the topic until a catch-up.
    private func fetch(_ entry: FollowedTopic, after: UInt64) {
        logger.debug("a gap in \(String(decoding: entry.name, as: UTF8.self)) after \(after): reading the stream")
        let count = max(1, local.currentSettings.ring.capacity)
        let generation = entry.follower.generation
        connection.send(StreamEntries.read(entry.keys, after: after, count: count)) { [weak self, weak entry] result in
            guard let self, let entry, followed[entry.name] === entry else { return }
            guard case let .success(reply) = result, let entries = StreamEntries.parse(reply) else {
                if connection.isReady { catchUp(entry) }  // else the reconnect catches up
                return
            }
            let (outcomes, more) = entry.follower.backFilled(entries, complete: entries.count < count, generation: generation)
            hand(outcomes, to: entry)
            if more { fetch(entry, after: entry.follower.last) }
        }
    }

    /// This node no longer reads `topic` (its local topic was freed): its channel is let go.
    private func unfollow(_ topic: Topic) {
        guard let entry = followed[topic.name], entry.topic === topic, entry.waiters.isEmpty, entry.groupRings.isEmpty else { return }
        followed[topic.name] = nil
        if entry.viaChannel { connection.sendWithoutReply([Array("UNSUBSCRIBE".utf8), entry.keys.channel]) }
    }

    // MARK: - Queue groups across nodes

    /// How long a registration of this node's group members lives in Redis without renewal,
    /// and how often it is renewed.
    static let registrationTTLms = 15_000
    /// A followed stream lives `linger_ms` plus this in Redis, renewed every
    /// ``registrationRenewalMs`` by each node that follows it.
    static let followerTTLSlackMs = 15_000
    static let registrationRenewalMs: Int64 = 5_000

    /// Attaches `subscription`, a member of queue group `group` of `entry`'s topic, to that
    /// group's ring on this node: the messages whose batch the script gave to this node (the
    /// first member here makes the ring, pins the topic's ring, which follows the stream, and
    /// is registered in the topic's groups hash by the caller). Members elsewhere have the
    /// other batches. `from=` and `last=` do not apply: the group's ring starts at the head.
    private func join(_ group: [UInt8], _ subscription: Subscription, of entry: FollowedTopic) throws(TopicStoreError) -> StreamHead? {
        let ring: Topic
        if let existing = entry.groupRings[group] {
            ring = existing
        } else {
            guard let made = local.makeGroupRing(named: entry.name) else { throw .tooManyTopics(limit: local.currentSettings.maxTopics) }
            ring = made
            entry.groupRings[group] = made
            if let topic = entry.topic { local.pin(topic) }
        }
        local.subscribe(subscription, toGroupRing: ring, group: group)
        memberGroup[ObjectIdentifier(subscription)] = group
        return StreamHead(epoch: entry.follower.epoch ?? [], head: entry.follower.last)
    }

    /// A member of `group` on `topic` left (detached already): the last one here closes the
    /// group's ring here and takes the registration back.
    private func leave(_ group: [UInt8], of topic: [UInt8]) {
        let entry = followed[topic]
        if let ring = entry?.groupRings[group], ring.receiverCount > 0 { return }
        if let ring = entry?.groupRings.removeValue(forKey: group) { ring.sender.close() }
        if let entry, entry.groupRings.isEmpty, let main = entry.topic { local.unpin(main) }
        let keys = entry?.keys ?? RedisTopicKeys(prefix: RedisTopicStore.keyPrefix, topic: topic)
        connection.send([Array("HDEL".utf8), keys.groups, registrationField(group)]) { _ in }
    }

    private func registrationField(_ group: [UInt8]) -> [UInt8] { group + [UInt8(ascii: " ")] + nodeID }

    /// Registers (or renews) this node as having members of `group` on the topic of `entry`,
    /// until Redis's clock passes ``registrationTTLms`` from now.
    private func register(_ group: [UInt8], of entry: FollowedTopic,
                          then done: @escaping (Result<RESPValue, RedisFailure>) -> Void = { _ in }) {
        connection.send([Array("EVAL".utf8), Array(RedisTopicStore.registrationScript.utf8), Array("1".utf8), entry.keys.groups,
                         registrationField(group), Array(String(RedisTopicStore.registrationTTLms).utf8)], reply: done)
    }

    static let registrationScript = """
        local t = redis.call('TIME')
        redis.call('HSET', KEYS[1], ARGV[1], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[2]))
        if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        return 1
        """

    private func renewRegistrationsLater() {
        reactor.addTimer(at: monotonicMilliseconds() + RedisTopicStore.registrationRenewalMs) { [weak self] in
            guard let self else { return }
            if connection.isReady {
                let ttl = Array(String(local.currentSettings.lingerMs + RedisTopicStore.followerTTLSlackMs).utf8)
                for pg in patternGroups.values { registerPatternGroup(pg) }
                for entry in followed.values {
                    for group in entry.groupRings.keys where !PatternGroup.isKey(group) { register(group, of: entry) }
                    // The stream lives while some node follows it (and linger_ms after).
                    connection.send([Array("PEXPIRE".utf8), entry.keys.meta, ttl]) { _ in }
                    connection.send([Array("PEXPIRE".utf8), entry.keys.stream, ttl]) { _ in }
                }
            }
            renewRegistrationsLater()
        }
    }

    /// `subscription` joins the queue group `group` of its pattern: it reads the group's ring
    /// of every followed topic the pattern matches (made as messages come, ``addPatternGroupRings(to:)``).
    private func joinPatternGroup(_ group: [UInt8], _ subscription: Subscription) -> PatternGroup {
        let key = PatternGroup.key(pattern: subscription.pattern, group: group)
        let pg = patternGroups[key] ?? PatternGroup(pattern: subscription.pattern, group: group, key: key)
        patternGroups[key] = pg
        pg.members.append(subscription)
        patternMember[ObjectIdentifier(subscription)] = key
        for entry in followed.values {
            if let ring = entry.groupRings[key] { local.subscribe(subscription, toGroupRing: ring, group: group) }
        }
        return pg
    }

    /// A member of a pattern's group left (its cursors are gone already); the last one here
    /// closes the group's rings here and takes the registration back.
    private func leavePatternGroup(_ key: [UInt8], _ subscription: Subscription) {
        guard let pg = patternGroups[key] else { return }
        pg.members.removeAll { $0 === subscription }
        guard pg.members.isEmpty else { return }
        patternGroups[key] = nil
        for entry in followed.values {
            guard let ring = entry.groupRings.removeValue(forKey: key) else { continue }
            ring.sender.close()
            if entry.groupRings.isEmpty, let main = entry.topic { local.unpin(main) }
        }
        connection.send([Array("HDEL".utf8), RedisTopicKeys.patternGroups(prefix: RedisTopicStore.keyPrefix), pg.field(node: nodeID)]) { _ in }
    }

    /// Gives `entry`'s topic a ring for each pattern group here that matches it and has none
    /// yet, its members attached (and the topic's ring pinned: it feeds them).
    private func addPatternGroupRings(to entry: FollowedTopic) {
        for pg in patternGroups.values where entry.groupRings[pg.key] == nil && pg.matches(entry.name) {
            guard let ring = local.makeGroupRing(named: entry.name) else { continue }
            entry.groupRings[pg.key] = ring
            if let main = entry.topic { local.pin(main) }
            for member in pg.members { local.subscribe(member, toGroupRing: ring, group: pg.group) }
        }
    }

    /// Registers (or renews) this node as having members of a pattern's queue group.
    private func registerPatternGroup(_ pg: PatternGroup, then done: @escaping (Result<RESPValue, RedisFailure>) -> Void = { _ in }) {
        connection.send([Array("EVAL".utf8), Array(RedisTopicStore.registrationScript.utf8), Array("1".utf8),
                         RedisTopicKeys.patternGroups(prefix: RedisTopicStore.keyPrefix), pg.field(node: nodeID),
                         Array(String(RedisTopicStore.registrationTTLms).utf8)], reply: done)
    }

    // MARK: - Patterns

    private func subscribeToPattern(_ subscription: Subscription, group: [UInt8]?,
                                    answer: @escaping (Result<StreamHead?, TopicStoreError>) -> Void) {
        var registration: PatternGroup?
        if let group {
            // A queue group of a pattern spans the nodes: its members read rings of their own,
            // one per topic, of the batches the script gives this node (``PatternGroup``).
            let pg = joinPatternGroup(group, subscription)
            if pg.members.count == 1 { registration = pg }
        } else {
            do {
                _ = try local.subscribe(subscription, start: .next, group: nil)
            } catch {
                answer(.failure(error))
                return
            }
        }
        let glob = RedisTopicStore.channelPattern(for: subscription.pattern)
        patternUsers[glob, default: 0] += 1
        if patternUsers[glob] == 1 { connection.sendWithoutReply([Array("PSUBSCRIBE".utf8), glob]) }
        // Answered once Redis has taken the PSUBSCRIBE: a PING after it on the same connection.
        let key = ObjectIdentifier(subscription)
        waiting[key] = .some(nil)
        let answerOnce: (Result<RESPValue, RedisFailure>) -> Void = { [weak self] _ in
            guard let self, waiting.removeValue(forKey: key) != nil else { return }
            answer(.success(nil))
        }
        if let registration {
            registerPatternGroup(registration, then: answerOnce)  // also after the PSUBSCRIBE
        } else {
            connection.send([Array("PING".utf8)], reply: answerOnce)
        }
    }

    // MARK: - Redis's state

    private func availabilityChanged(_ ready: Bool) {
        onAvailabilityChange(ready)
        guard ready else {
            logger.warn("Redis at \(connection.endpoint.host):\(connection.endpoint.port) is unreachable (\(connection.lastFailure)): "
                        + "publishes get ERR engine-unavailable until it is back")
            for entry in followed.values { entry.follower.pause() }
            return
        }
        logger.info("connected to Redis at \(connection.endpoint.host):\(connection.endpoint.port)")
        loadScripts()
        for glob in patternUsers.keys { connection.sendWithoutReply([Array("PSUBSCRIBE".utf8), glob]) }
        for pg in patternGroups.values { registerPatternGroup(pg) }
        for entry in Array(followed.values) {
            for group in entry.groupRings.keys where !PatternGroup.isKey(group) { register(group, of: entry) }
            if entry.viaChannel { connection.sendWithoutReply([Array("SUBSCRIBE".utf8), entry.keys.channel]) }
            if entry.topic != nil { catchUp(entry) }
        }
    }

    /// `SCRIPT LOAD`s the publish script, so that `EVALSHA` finds it (before any publish of
    /// this connection: it goes first on it).
    private func loadScripts() {
        connection.send([Array("SCRIPT".utf8), Array("LOAD".utf8), Array(StreamScript.source.utf8)]) { [weak self] result in
            if case let .success(reply) = result, let text = reply.errorText {
                self?.logger.error("Redis refused the publish script: \(text)")
            }
        }
    }

    // MARK: - Names

    /// The topic a channel name (``RedisTopicKeys/channel``) belongs to, or nil.
    static func topicName(ofChannel channel: [UInt8]) -> [UInt8]? {
        let head = keyPrefix + [UInt8(ascii: "{")]
        let tail = Array("}:c".utf8)
        guard channel.count > head.count + tail.count, channel.starts(with: head), channel.suffix(tail.count).elementsEqual(tail) else {
            return nil
        }
        return Array(channel[head.count..<(channel.count - tail.count)])
    }

    /// The Redis glob (`PSUBSCRIBE`) whose channels include those of every topic `pattern`
    /// matches: `*` and `>` tokens become `*` (which in Redis also crosses dots: what does not
    /// match is dropped here, as the local store attaches only matching patterns), other bytes
    /// are escaped where the glob would read them.
    static func channelPattern(for pattern: [UInt8]) -> [UInt8] {
        var glob = keyPrefix + [UInt8(ascii: "{")]
        let tokens = pattern.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        for (index, token) in tokens.enumerated() {
            if index > 0 { glob.append(UInt8(ascii: ".")) }
            if token.elementsEqual([UInt8(ascii: "*")]) || token.elementsEqual([UInt8(ascii: ">")]) {
                glob.append(UInt8(ascii: "*"))
                continue
            }
            for byte in token {
                if byte == UInt8(ascii: "*") || byte == UInt8(ascii: "?") || byte == UInt8(ascii: "[")
                    || byte == UInt8(ascii: "]") || byte == UInt8(ascii: "\\") {
                    glob.append(UInt8(ascii: "\\"))
                }
                glob.append(byte)
            }
        }
        return glob + Array("}:c".utf8)
    }
}

/// One topic this node follows in Redis.
final class FollowedTopic {
    /// A subscription waiting for the stream's first read.
    struct Waiter {
        let subscription: Subscription
        let start: SubscriptionStart
        let group: [UInt8]?
        let answer: (Result<StreamHead?, TopicStoreError>) -> Void
    }

    let name: [UInt8]
    let keys: RedisTopicKeys
    /// The order of the stream's messages into the ring.
    var follower = StreamFollower()
    /// The local ring, once the stream was read (nil while being read).
    var topic: Topic?
    /// Whether this node `SUBSCRIBE`d to the topic's channel (a concrete subscription here),
    /// rather than receiving it through a pattern only.
    var viaChannel = false
    /// Subscriptions waiting for the read.
    var waiters: [Waiter] = []
    /// Whether a read of the stream (``StreamReadScript``) is out.
    var reading = false
    /// The ring of each queue group of this topic with members here: the messages whose
    /// batch the script gave to this node (positions are not sequences there: each message's
    /// version 2 frame is made with its sequence before it goes in).
    var groupRings: [[UInt8]: Topic] = [:]

    init(name: [UInt8]) {
        self.name = name
        keys = RedisTopicKeys(prefix: RedisTopicStore.keyPrefix, topic: name)
    }

    /// Whether the stream was read and the ring follows it.
    var isLive: Bool { topic != nil && !reading }
}

/// The publishes to one topic gathered in one loop turn, and their answers in order.
final class OutgoingBatch {
    var batch = PayloadBatch()
    var answers: [(Result<PublishReceipt, TopicStoreError>) -> Void] = []
}

/// A queue group of a pattern with members on this node. Its messages come to this node's
/// topics like any others; the script gives each batch of a matching topic to one node of
/// the group (by the key ``key``), whose members read it from the group's ring of that topic.
final class PatternGroup {
    let pattern: [UInt8]
    let group: [UInt8]
    /// `<group>@<first 16 hex digits of the pattern's SHA-1>`: how the script names the group in
    /// a batch's assignment (a pattern may hold `=` and `,`; a group name holds neither, nor `@`).
    let key: [UInt8]
    /// The members here.
    var members: [Subscription] = []

    init(pattern: [UInt8], group: [UInt8], key: [UInt8]) {
        self.pattern = pattern
        self.group = group
        self.key = key
    }

    static func key(pattern: [UInt8], group: [UInt8]) -> [UInt8] {
        group + [UInt8(ascii: "@")] + Array(SHA1.hex(of: pattern).utf8.prefix(16))
    }

    /// Whether an assignment key names a pattern's group (a concrete topic's group is its name alone).
    static func isKey(_ key: [UInt8]) -> Bool { key.contains(UInt8(ascii: "@")) }

    /// The registration's field in the pattern groups hash.
    func field(node: [UInt8]) -> [UInt8] { pattern + [UInt8(ascii: " ")] + group + [UInt8(ascii: " ")] + node }

    func matches(_ topic: [UInt8]) -> Bool {
        pattern.withUnsafeBytes { p in topic.withUnsafeBytes { t in Names.matches(pattern: p, topic: t) } }
    }
}
