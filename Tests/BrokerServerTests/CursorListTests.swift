// The cursor lists of topics and subscriptions: one cursor inline, more in an array, any order of removal.
import Testing
@testable import Broker

@Suite struct CursorListTests {
    private let scheduler = IdleScheduler()

    /// A topic `a.b` read by `count` pattern subscriptions `a.*` (each with one cursor on it).
    private func topicWithPatternReaders(_ count: Int) throws -> (LocalTopicStore, Topic, [Subscription]) {
        let store = LocalTopicStore(capacity: 8, maxTopics: 100)
        let subscriptions = (0..<count).map {
            Subscription(pattern: Array("a.*".utf8), isPattern: true, connectionToken: UInt64($0 + 1), scheduler: scheduler)
        }
        for subscription in subscriptions { try store.subscribe(subscription) }
        let topic = try #require(try Array("a.b".utf8).withUnsafeBytes { try store.topicForPublish($0) })
        return (store, topic, subscriptions)
    }

    private func expectIndexesMatchPositions(_ topic: Topic) {
        for (position, cursor) in topic.cursors.enumerated() { #expect(Int(cursor.indexInTopic) == position) }
    }

    @Test func aTopicsCursorsStayIndexedWhateverOrderTheirSubscriptionsEndIn() throws {
        for order in [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]] {
            let (store, topic, subscriptions) = try topicWithPatternReaders(4)
            #expect(topic.cursors.count == 4)
            expectIndexesMatchPositions(topic)
            for (ended, index) in order.enumerated() {
                store.unsubscribe(subscriptions[index])
                #expect(topic.cursors.count == 3 - ended)
                #expect(subscriptions[index].cursors.isEmpty)
                #expect(!topic.cursors.contains { $0.subscription === subscriptions[index] })
                expectIndexesMatchPositions(topic)
            }
        }
    }

    @Test func aListGrowsFromNoneToOneToManyAndBack() throws {
        let (store, topic, subscriptions) = try topicWithPatternReaders(3)
        let cursors = Array(topic.cursors)
        var list = CursorList()
        #expect(list.isEmpty)
        list.append(cursors[0])
        #expect(list.count == 1 && list[0] === cursors[0])
        list.append(cursors[1])
        list.append(cursors[2])
        #expect(list.map(ObjectIdentifier.init) == cursors.map(ObjectIdentifier.init))
        list[1] = cursors[2]
        #expect(list[1] === cursors[2])
        #expect(list.removeLast() === cursors[2])
        #expect(list.removeLast() === cursors[2])
        #expect(list.count == 1 && list[0] === cursors[0])
        list.append(cursors[1])
        list.removeAll { $0 === cursors[0] }
        #expect(list.count == 1 && list[0] === cursors[1])
        list.removeAll { $0 === cursors[1] }
        #expect(list.isEmpty)
        for subscription in subscriptions { store.unsubscribe(subscription) }
    }

    @Test func aCopyOfAListIsNotChangedByChangesToTheOriginal() throws {
        let (store, topic, subscriptions) = try topicWithPatternReaders(3)
        var list = topic.cursors
        let copy = list
        list.removeAll { _ in true }
        list.append(copy[2])
        #expect(copy.count == 3 && list.count == 1)
        #expect(copy.map(ObjectIdentifier.init) == topic.cursors.map(ObjectIdentifier.init))
        for subscription in subscriptions { store.unsubscribe(subscription) }
    }
}
