// Routing in the broker's own registry: `$` topics are not matched by a leading wildcard
// (over TCP: SystemTopicsTests), and a new topic is read by the earlier patterns that match it.
import Testing
@testable import Broker

/// A scheduler that ignores wake-ups (nothing reads these cursors).
final class IdleScheduler: CursorScheduler, @unchecked Sendable {}

@Suite struct ReservedTopicRoutingTests {
    private let scheduler = IdleScheduler()

    private func subscription(_ pattern: String, id: UInt64) -> Subscription {
        Subscription(pattern: Array(pattern.utf8), isPattern: pattern.contains("*") || pattern.contains(">"),
                     connectionToken: id, scheduler: scheduler)
    }

    @Test func aLeadingWildcardDoesNotRouteADollarTopicButDollarSYSDoes() throws {
        let registry = LocalTopicStore(capacity: 8, maxTopics: 100)
        try registry.subscribe(subscription(">", id: 1))
        try registry.subscribe(subscription("*.lagged", id: 2))
        #expect(try Array("$SYS.lagged".utf8).withUnsafeBytes { try registry.topicForPublish($0) } == nil)
        try registry.subscribe(subscription("$SYS.>", id: 3))
        let topic = try Array("$SYS.lagged".utf8).withUnsafeBytes { try registry.topicForPublish($0) }
        #expect(topic?.cursors.count == 1)  // only `$SYS.>`
    }

    @Test func aLeadingWildcardSubscribedLaterDoesNotAttachToAnExistingDollarTopic() throws {
        let registry = LocalTopicStore(capacity: 8, maxTopics: 100)
        try registry.subscribe(subscription("$SYS.lagged", id: 1))
        try registry.subscribe(subscription(">", id: 2))
        try registry.subscribe(subscription("*.lagged", id: 3))
        #expect(registry.existingTopic(Array("$SYS.lagged".utf8))?.cursors.count == 1)
        try registry.subscribe(subscription("$SYS.*", id: 4))
        #expect(registry.existingTopic(Array("$SYS.lagged".utf8))?.cursors.count == 2)
    }
}

@Suite struct PatternAttachTests {
    private let scheduler = IdleScheduler()

    @Test func aTopicCreatedByAnExactSubscriptionIsAlsoReadByEarlierMatchingPatterns() throws {
        let registry = LocalTopicStore(capacity: 8, maxTopics: 100)
        try registry.subscribe(Subscription(pattern: Array("a.*".utf8), isPattern: true, connectionToken: 1, scheduler: scheduler))
        try registry.subscribe(Subscription(pattern: Array("a.b".utf8), isPattern: false, connectionToken: 2, scheduler: scheduler))
        #expect(registry.existingTopic(Array("a.b".utf8))?.cursors.count == 2)
    }
}

extension LocalTopicStore {
    /// A store as these tests knew it: topics freed once nobody reads them (`linger_ms 0`).
    convenience init(capacity: Int, maxTopics: Int) {
        self.init(settings: TopicStoreSettings(ring: RingLimits(capacity: capacity, maxBytes: .max), maxTopics: maxTopics, lingerMs: 0),
                  epochSeed: 1)
    }

    /// A plain subscription (no options, no group).
    func subscribe(_ subscription: Subscription) throws(TopicStoreError) {
        _ = try subscribe(subscription, start: .next, group: nil)
    }
}
