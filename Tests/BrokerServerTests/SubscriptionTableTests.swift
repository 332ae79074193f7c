// A connection's subscription table: one plain subscription inline, any other mix in a dictionary.
import Testing
@testable import Broker

@Suite struct SubscriptionTableTests {
    private let scheduler = IdleScheduler()

    private func subscription(_ pattern: String, id: UInt64) -> Subscription {
        Subscription(pattern: Array(pattern.utf8), isPattern: pattern.contains("*") || pattern.contains(">"),
                     id: id, connectionToken: 1, scheduler: scheduler)
    }

    private func key(_ pattern: String, group: String? = nil) -> [UInt8] {
        Array(pattern.utf8).withUnsafeBytes { CommandCore.subscriptionKey($0, group: group.map { Array($0.utf8) }) }
    }

    private func ids(_ table: SubscriptionTable) -> Set<UInt64> {
        var ids: Set<UInt64> = []
        table.forEach { ids.insert($0.id) }
        return ids
    }

    @Test func oneSubscriptionAndThenMoreAreFoundByTheirKeysAndRemovedOneByOne() {
        var table = SubscriptionTable()
        #expect(table.isEmpty && table[key("a")] == nil)
        table[key("a")] = subscription("a", id: 1)
        #expect(table.count == 1 && table[key("a")]?.id == 1 && table[key("b")] == nil)
        table[key("b.*")] = subscription("b.*", id: 2)
        table[key("a", group: "g")] = subscription("a", id: 3)
        #expect(table.count == 3 && ids(table) == [1, 2, 3])
        #expect(table[key("a")]?.id == 1 && table[key("b.*")]?.id == 2 && table[key("a", group: "g")]?.id == 3)
        #expect(table.removeValue(forKey: key("a"))?.id == 1)
        #expect(table.removeValue(forKey: key("a")) == nil)
        #expect(table.count == 2 && table[key("a")] == nil && table[key("a", group: "g")]?.id == 3)
        #expect(table.removeValue(forKey: key("a", group: "g"))?.id == 3)
        #expect(table.count == 1 && table[key("b.*")]?.id == 2 && ids(table) == [2])
        table[key("b.*")] = nil
        #expect(table.isEmpty && ids(table).isEmpty)
    }

    @Test func aGroupMemberAloneIsFoundOnlyByItsGroupKey() {
        var table = SubscriptionTable()
        table[key("a", group: "g")] = subscription("a", id: 1)
        #expect(table.count == 1 && table[key("a", group: "g")]?.id == 1 && table[key("a")] == nil)
        table[key("a")] = subscription("a", id: 2)
        #expect(table.count == 2 && table[key("a")]?.id == 2 && table[key("a", group: "g")]?.id == 1)
        #expect(table.removeValue(forKey: key("a"))?.id == 2)
        #expect(table.count == 1 && table[key("a", group: "g")]?.id == 1 && table[key("a")] == nil)
    }

    @Test func settingAKeyAgainReplacesItsSubscription() {
        var table = SubscriptionTable()
        table[key("a")] = subscription("a", id: 1)
        table[key("a")] = subscription("a", id: 2)
        #expect(table.count == 1 && table[key("a")]?.id == 2)
        table[key("b")] = subscription("b", id: 3)
        table[key("b")] = subscription("b", id: 4)
        #expect(table.count == 2 && ids(table) == [2, 4])
        table.removeAll()
        #expect(table.isEmpty && table[key("a")] == nil)
    }

    @Test func aCopyOfATableIsNotChangedByChangesToTheOriginal() {
        var table = SubscriptionTable()
        table[key("a")] = subscription("a", id: 1)
        table[key("b")] = subscription("b", id: 2)
        let copy = table
        table[key("c")] = subscription("c", id: 3)
        table[key("a")] = nil
        #expect(ids(copy) == [1, 2] && ids(table) == [2, 3])
        var second = copy
        second[key("b")] = nil
        #expect(ids(copy) == [1, 2] && ids(second) == [1] && second[key("a")]?.id == 1)
    }
}
