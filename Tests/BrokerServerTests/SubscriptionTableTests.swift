// A connection's subscription table: one plain subscription inline, any other mix in a dictionary.
import Testing
@testable import Broker

@Suite struct SubscriptionTableTests {
    private let scheduler = IdleScheduler()

    private func subscription(_ pattern: String, id: UInt64) -> Subscription {
        Subscription(pattern: Array(pattern.utf8), isPattern: pattern.contains("*") || pattern.contains(">"),
                     connectionToken: id, scheduler: scheduler)
    }

    private func key(_ pattern: String, group: String? = nil) -> [UInt8] {
        Array(pattern.utf8).withUnsafeBytes { CommandCore.subscriptionKey($0, group: group.map { Array($0.utf8) }) }
    }

    private func ids(_ table: SubscriptionTable) -> Set<UInt64> {
        var ids: Set<UInt64> = []
        table.forEach { ids.insert($0.connectionToken) }
        return ids
    }

    @Test func oneSubscriptionAndThenMoreAreFoundByTheirKeysAndRemovedOneByOne() {
        var table = SubscriptionTable()
        #expect(table.isEmpty && table[key("a")] == nil)
        table[key("a")] = subscription("a", id: 1)
        #expect(table.count == 1 && table[key("a")]?.connectionToken == 1 && table[key("b")] == nil)
        table[key("b.*")] = subscription("b.*", id: 2)
        table[key("a", group: "g")] = subscription("a", id: 3)
        #expect(table.count == 3 && ids(table) == [1, 2, 3])
        #expect(table[key("a")]?.connectionToken == 1 && table[key("b.*")]?.connectionToken == 2 && table[key("a", group: "g")]?.connectionToken == 3)
        #expect(table.removeValue(forKey: key("a"))?.connectionToken == 1)
        #expect(table.removeValue(forKey: key("a")) == nil)
        #expect(table.count == 2 && table[key("a")] == nil && table[key("a", group: "g")]?.connectionToken == 3)
        #expect(table.removeValue(forKey: key("a", group: "g"))?.connectionToken == 3)
        #expect(table.count == 1 && table[key("b.*")]?.connectionToken == 2 && ids(table) == [2])
        table[key("b.*")] = nil
        #expect(table.isEmpty && ids(table).isEmpty)
    }

    @Test func aGroupMemberAloneIsFoundOnlyByItsGroupKey() {
        var table = SubscriptionTable()
        table[key("a", group: "g")] = subscription("a", id: 1)
        #expect(table.count == 1 && table[key("a", group: "g")]?.connectionToken == 1 && table[key("a")] == nil)
        table[key("a")] = subscription("a", id: 2)
        #expect(table.count == 2 && table[key("a")]?.connectionToken == 2 && table[key("a", group: "g")]?.connectionToken == 1)
        #expect(table.removeValue(forKey: key("a"))?.connectionToken == 2)
        #expect(table.count == 1 && table[key("a", group: "g")]?.connectionToken == 1 && table[key("a")] == nil)
    }

    @Test func settingAKeyAgainReplacesItsSubscription() {
        var table = SubscriptionTable()
        table[key("a")] = subscription("a", id: 1)
        table[key("a")] = subscription("a", id: 2)
        #expect(table.count == 1 && table[key("a")]?.connectionToken == 2)
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
        #expect(ids(copy) == [1, 2] && ids(second) == [1] && second[key("a")]?.connectionToken == 1)
    }

    /// Random inserts, replacements and removals of plain and group keys, checked after each
    /// step against a dictionary: lookups, count, iteration (the table grows and shifts
    /// entries back on removal).
    @Test func randomChangesAgreeWithADictionary() {
        var generator = SystemRandomNumberGenerator()
        var table = SubscriptionTable()
        var oracle: [[UInt8]: UInt64] = [:]
        let pool = (0..<300).map { k -> (String, String?) in ("t.\(k % 150)", k < 150 ? nil : "g\(k % 3)") }
        var nextID: UInt64 = 1
        for step in 0..<6000 {
            let (pattern, group) = pool[Int.random(in: 0..<pool.count, using: &generator)]
            let k = key(pattern, group: group)
            if Bool.random(using: &generator) || step < 200 {
                table[k] = subscription(pattern, id: nextID)
                oracle[k] = nextID
                nextID += 1
            } else {
                #expect(table.removeValue(forKey: k)?.connectionToken == oracle.removeValue(forKey: k))
            }
            if step % 97 == 0 || step > 5900 {
                #expect(table.count == oracle.count)
                for (pattern, group) in pool {
                    let k = key(pattern, group: group)
                    #expect(table[k]?.connectionToken == oracle[k], "\(pattern) \(group ?? "-") at step \(step)")
                }
                var seen: [[UInt8]: UInt64] = [:]
                table.forEachKeyed { key, subscription in seen[key] = subscription.connectionToken }
                #expect(seen == oracle)
            }
        }
        for k in Array(oracle.keys) { #expect(table.removeValue(forKey: k)?.connectionToken == oracle[k]) }
        #expect(table.isEmpty)
    }
}
