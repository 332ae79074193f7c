// A topic gets its ring at its first message: before it, its subscriptions' cursors wait
// without a receiver, and they read that first message and every one after it.
import Channels
import Synchronization
import Testing
@testable import Broker

/// Counts the wake-ups of cursors (any thread).
final class CountingScheduler: CursorScheduler, @unchecked Sendable {
    let woken = Atomic<Int>(0)
    override func schedule(_ cursor: Cursor) { woken.add(1, ordering: .relaxed) }
}

@Suite struct RingOnFirstMessageTests {
    private let scheduler = CountingScheduler()

    private func subscription(_ pattern: String, id: UInt64) -> Subscription {
        Subscription(pattern: Array(pattern.utf8), isPattern: pattern.contains("*") || pattern.contains(">"),
                     connectionToken: id, scheduler: scheduler)
    }

    @discardableResult
    private func publish(_ store: LocalTopicStore, _ topic: String, _ payload: String) throws -> PublishOutcome {
        var cache: Topic?
        return try Array(topic.utf8).withUnsafeBytes { name in
            try Array(payload.utf8).withUnsafeBytes { bytes in
                try store.publish(to: name, payload: bytes, lineSafe: nil, cache: &cache, createsStream: true)
            }
        }
    }

    /// The payloads a cursor can read now (its frames, `MSG <topic> <payload>`).
    private func read(_ cursor: Cursor) -> [String] {
        var lines: [String] = []
        while let receiver = cursor.receiver, let message = try? receiver.tryRecv() {
            lines.append(String(decoding: message.bytes, as: UTF8.self))
        }
        return lines
    }

    private func store(capacity: Int = 8, lingerMs: Int = 0) -> LocalTopicStore {
        LocalTopicStore(settings: TopicStoreSettings(ring: RingLimits(capacity: capacity, maxBytes: .max), maxTopics: 100,
                                                     lingerMs: lingerMs), epochSeed: 1)
    }

    @Test func aSubscriptionMakesATopicWithoutARingAndTheFirstMessageOpensIt() throws {
        let store = store()
        let exact = subscription("a.b", id: 1)
        let pattern = subscription("a.*", id: 2)
        try store.subscribe(pattern)
        try store.subscribe(exact)
        let topic = try #require(store.existingTopic(Array("a.b".utf8)))
        #expect(!topic.isRingOpen)
        #expect(topic.cursors.count == 2)
        #expect(exact.cursors[0].isAwaitingRing && pattern.cursors[0].isAwaitingRing)
        #expect(store.head(of: Array("a.b".utf8))?.head == 0)

        #expect(try publish(store, "a.b", "one").receivers == 2)
        #expect(topic.isRingOpen)
        #expect(!exact.cursors[0].isAwaitingRing)
        #expect(scheduler.woken.load(ordering: .relaxed) == 2)  // each armed cursor woken by the message
        try publish(store, "a.b", "two")
        #expect(read(exact.cursors[0]) == ["MSG a.b one\n", "MSG a.b two\n"])
        #expect(read(pattern.cursors[0]) == ["MSG a.b one\n", "MSG a.b two\n"])
        store.unsubscribe(exact)
        store.unsubscribe(pattern)
    }

    @Test func aRingGetsTheBoundsOfWhenItsTopicWasMadeNotOfItsFirstMessage() throws {
        let store = store(capacity: 4)
        let early = subscription("early", id: 1)
        try store.subscribe(early)
        var settings = store.currentSettings
        settings.ring = RingLimits(capacity: 200, maxBytes: 1 << 20)
        store.update(settings)
        let late = subscription("late", id: 2)
        try store.subscribe(late)
        try publish(store, "early", "x")
        try publish(store, "late", "x")
        #expect(store.existingTopic(Array("early".utf8))?.capacity == 4)
        #expect(store.existingTopic(Array("late".utf8))?.capacity == 256)
        #expect(store.existingTopic(Array("late".utf8))?.limits == RingLimits(capacity: 256, maxBytes: 1 << 20))
        store.unsubscribe(early)
        store.unsubscribe(late)
    }

    @Test func aTopicsStatisticsCountASubscriberWaitingForTheRing() throws {
        let store = store()
        let waiting = subscription("s", id: 1)
        try store.subscribe(waiting)
        let figures = try #require(store.statistics(of: Array("s".utf8)))
        #expect(figures.subscribers == 1 && figures.published == 0 && figures.maxLag == 0)
        store.unsubscribe(waiting)
        #expect(store.existingTopic(Array("s".utf8)) == nil)  // linger 0: freed with its last reader
    }

    @Test func aQueueGroupMemberOpensTheRingAtOnce() throws {
        let store = store()
        let member = subscription("g", id: 1)
        _ = try store.subscribe(member, start: .next, group: Array("workers".utf8))
        let topic = try #require(store.existingTopic(Array("g".utf8)))
        #expect(topic.isRingOpen)
        #expect(member.cursors[0].share != nil)
        try publish(store, "g", "job")
        #expect(read(member.cursors[0]) == ["MSG g job\n"])
        store.unsubscribe(member)
    }

    @Test func aResumeOnATopicWithoutARingStartsAtItsHeadZero() throws {
        let store = store()
        let first = subscription("r", id: 1)
        try store.subscribe(first)
        let resumed = subscription("r", id: 2)
        let head = try store.subscribe(resumed, start: .last(10), group: nil)
        #expect(head?.head == 0)
        #expect(resumed.cursors[0].isAwaitingRing)
        try publish(store, "r", "m")
        #expect(read(resumed.cursors[0]) == ["MSG r m\n"])
        store.unsubscribe(first)
        store.unsubscribe(resumed)
    }

    @Test func aLingeringTopicWithoutARingIsFreedAndItsWaitingPatternCursorGoesWithIt() throws {
        let store = store(lingerMs: 1)
        let pattern = subscription("p.*", id: 1)
        let exact = subscription("p.q", id: 2)
        try store.subscribe(pattern)
        try store.subscribe(exact)
        #expect(pattern.cursors.count == 1)
        store.unsubscribe(exact)  // p.q lingers, read only by the pattern, never sent anything
        let topic = try #require(store.existingTopic(Array("p.q".utf8)))
        #expect(!topic.isRingOpen)
        #expect(store.sweepLingering(nowMs: monotonicMilliseconds() + 60_000) == 1)
        #expect(store.existingTopic(Array("p.q".utf8)) == nil)
        #expect(pattern.cursors.isEmpty)  // nothing left pointing at the freed topic
        #expect(topic.cursors.isEmpty)
        // The pattern still reads a topic made later.
        try publish(store, "p.r", "later")
        #expect(pattern.cursors.count == 1)
        #expect(read(pattern.cursors[0]) == ["MSG p.r later\n"])
        store.unsubscribe(pattern)
    }

    /// Publishers on several threads race to open a topic's ring while subscriptions are
    /// added: each subscription made before the first publish reads every message, each
    /// publisher's in order, and a later one reads an unbroken run of each publisher's.
    @Test func racingFirstPublishesLoseNothingForWaitingCursors() async throws {
        for round in 0..<300 {
            let store = store(capacity: 4096)
            let name = "race.\(round)"
            let early = subscription(name, id: 1)
            try store.subscribe(early)
            let late = subscription(name, id: 2)
            let publishers = 3, perPublisher = 50
            try await withThrowingTaskGroup(of: Void.self) { group in
                for p in 0..<publishers {
                    group.addTask {
                        var cache: Topic?
                        for k in 0..<perPublisher {
                            try Array(name.utf8).withUnsafeBytes { topic in
                                try Array("\(p):\(k)".utf8).withUnsafeBytes { payload in
                                    _ = try store.publish(to: topic, payload: payload, lineSafe: nil, cache: &cache, createsStream: true)
                                }
                            }
                        }
                    }
                }
                group.addTask { try store.subscribe(late) }
                try await group.waitForAll()
            }
            for (subscription, whole) in [(early, true), (late, false)] {
                var next = [Int](repeating: -1, count: publishers)
                var count = 0
                for line in read(subscription.cursors[0]) {
                    let fields = line.dropFirst("MSG \(name) ".count).dropLast().split(separator: ":").compactMap { Int($0) }
                    guard fields.count == 2 else { Issue.record("bad frame \(line)"); continue }
                    let (p, k) = (fields[0], fields[1])
                    if next[p] >= 0 || whole { #expect(k == next[p] + 1, "publisher \(p): \(k) after \(next[p])") }
                    next[p] = k
                    count += 1
                }
                if whole { #expect(count == publishers * perPublisher) }
            }
            store.unsubscribe(early)
            store.unsubscribe(late)
        }
    }
}
