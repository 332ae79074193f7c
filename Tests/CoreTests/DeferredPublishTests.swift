// A store that answers publishes later (the cluster engine's shape): replies keep their order, failures are said.
import Protocol
import Testing
@testable import Broker

/// The local store, except that each publish is answered only when the test says so
/// (as a store whose order another process keeps answers when that process replies).
final class DeferredStore: TopicStore, @unchecked Sendable {
    // @unchecked Sendable: one thread (the embedded broker's), like the tests that drive it.
    let local: LocalTopicStore
    /// Publishes not answered yet, oldest first: the topic, payload and how to answer.
    private var waiting: [(topic: [UInt8], payload: [UInt8], lineSafe: Bool?,
                           answer: (Result<PublishReceipt, TopicStoreError>) -> Void)] = []

    init(_ local: LocalTopicStore) { self.local = local }

    var pendingCount: Int { waiting.count }

    /// Publishes the oldest waiting message in the local store and answers it.
    func release() {
        guard !waiting.isEmpty else { return }
        let next = waiting.removeFirst()
        next.topic.withUnsafeBytes { name in
            next.payload.withUnsafeBytes { payload in
                local.publishLater(to: name, payload: payload, lineSafe: next.lineSafe, answer: next.answer)
            }
        }
    }

    /// Answers the oldest waiting publish with `failure`, publishing nothing.
    func refuse(_ failure: TopicStoreError) {
        guard !waiting.isEmpty else { return }
        waiting.removeFirst().answer(.failure(failure))
    }

    var answersPublishesLater: Bool { true }
    func publishLater(to name: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, lineSafe: Bool?,
                      answer: @escaping (Result<PublishReceipt, TopicStoreError>) -> Void) {
        waiting.append((Array(name), Array(payload), lineSafe, answer))
    }

    var count: Int { local.count }
    func update(_ settings: TopicStoreSettings) { local.update(settings) }
    func publish(to name: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, lineSafe: Bool?,
                 cache: inout Topic?, createsStream: Bool) throws(TopicStoreError) -> PublishOutcome {
        try local.publish(to: name, payload: payload, lineSafe: lineSafe, cache: &cache, createsStream: createsStream)
    }
    func makeEpoch() -> [UInt8] { local.makeEpoch() }
    func epoch(of topic: Topic) -> [UInt8] { local.epoch(of: topic) }
    func subscribe(_ subscription: Subscription, start: SubscriptionStart, group: [UInt8]?) throws(TopicStoreError) -> StreamHead? {
        try local.subscribe(subscription, start: start, group: group)
    }
    func head(of name: [UInt8]) -> StreamHead? { local.head(of: name) }
    func unsubscribe(_ subscription: Subscription) { local.unsubscribe(subscription) }
    func sweepLingering(nowMs: Int64) -> Int { local.sweepLingering(nowMs: nowMs) }
    func forget(_ cursor: Cursor) { local.forget(cursor) }
    func withCursorsLocked<R>(_ body: () -> R) -> R { local.withCursorsLocked(body) }
    func statistics(of name: [UInt8]) -> TopicStatistics? { local.statistics(of: name) }
    func busiestTopics(limit: Int) -> [(name: [UInt8], figures: TopicStatistics)] { local.busiestTopics(limit: limit) }
    func allTopicFigures() -> [(name: [UInt8], figures: TopicStatistics)] { local.allTopicFigures() }
}

@Suite struct DeferredPublishTests {
    private func broker() -> (EmbeddedBroker, DeferredStore) {
        var store: DeferredStore?
        let broker = EmbeddedBroker(makeStore: { local in
            let made = DeferredStore(local)
            store = made
            return made
        })
        guard let store else { preconditionFailure("the broker made no store") }
        return (broker, store)
    }

    @Test func repliesAfterAnUnansweredPublishWaitAndComeInCommandOrder() {
        let (broker, store) = broker()
        let subscriber = broker.connect()
        #expect(subscriber.exchange("SUB t") == ["OK"])
        let publisher = broker.connect()
        publisher.send("PING a\nPUB t one\nPING b\nPUB t two\nPING c\n")
        broker.run()
        #expect(publisher.takeLines() == ["PONG a"])  // the rest waits behind the first publish
        #expect(store.pendingCount == 2)
        store.release()
        broker.run()
        #expect(publisher.takeLines() == ["OK 1", "PONG b"])
        #expect(subscriber.takeLines() == ["MSG t one"])
        store.release()
        broker.run()
        #expect(publisher.takeLines() == ["OK 1", "PONG c"])
        #expect(subscriber.takeLines() == ["MSG t two"])
    }

    @Test func aRefusedPublishIsSaidInItsPlaceAndNothingIsPublished() {
        let (broker, store) = broker()
        let subscriber = broker.connect()
        _ = subscriber.exchange("SUB t")
        let publisher = broker.connect()
        publisher.send("PUB t lost\nPUB t kept\nPING\n")
        broker.run()
        store.refuse(.engineUnavailable("Redis is unavailable: connection refused"))
        store.release()
        broker.run()
        #expect(publisher.takeLines() == ["ERR engine-unavailable Redis is unavailable: connection refused", "OK 1", "PONG"])
        #expect(subscriber.takeLines() == ["MSG t kept"])
        let stats = publisher.exchange("STATS")[0]
        #expect(stats.split(separator: " ").contains("published_total=1"), "\(stats)")
    }

    @Test func versionTwoRepliesCarryTheStreamPosition() {
        let (broker, store) = broker()
        let publisher = broker.connect()
        #expect(publisher.exchange("HELLO 2") == ["OK 2"])
        _ = broker.connect().exchange("SUB t")
        publisher.send("PUB t a\nPUB t b\n")
        broker.run()
        store.release()
        store.release()
        broker.run()
        let lines = publisher.takeLines()
        #expect(lines.count == 2)
        #expect(lines.allSatisfy { $0.hasPrefix("OK 1 ") })
        #expect(lines.map { $0.split(separator: ":").last.map(String.init) } == ["1", "2"])
    }

    @Test func anAnswerForAClosedConnectionIsDropped() {
        let (broker, store) = broker()
        let publisher = broker.connect()
        publisher.send("PUB t x\n")
        broker.run()
        publisher.close(reason: .peerReset)
        store.release()
        broker.run()
        #expect(store.pendingCount == 0)
        #expect(broker.connect().exchange("PING") == ["PONG"])
    }
}
