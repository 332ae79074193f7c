// The store's topic table: lookups, inserts and removals (backward shift) against a dictionary.
import Testing
@testable import Broker

@Suite struct TopicTableTests {
    private func topic(_ name: String) throws -> Topic {
        Topic(name: Array(name.utf8), epochNumber: 1, limits: RingLimits(capacity: 4, maxBytes: 1 << 20))
    }

    private func expectSame(_ table: TopicTable, _ oracle: [String: Topic], pool: [String]) {
        #expect(table.count == oracle.count)
        for name in pool {
            let found = Array(name.utf8).withUnsafeBytes { table.topic(named: $0) }
            #expect(found === oracle[name], "lookup of \(name)")
        }
        #expect(Set(table.values.map(ObjectIdentifier.init)) == Set(oracle.values.map(ObjectIdentifier.init)))
    }

    @Test func anEmptyTableFindsNothing() {
        let table = TopicTable()
        #expect(table.count == 0)
        #expect(table[Array("a".utf8)] == nil)
        #expect(table.values.isEmpty)
    }

    @Test func namesThatArePrefixesOfEachOtherAreDifferentTopics() throws {
        var table = TopicTable()
        let names = ["", "a", "a.", "a.b", "a.bc", "a.b.c.d.e.f.g.h.i", "a.b.c.d.e.f.g.h.j"]
        var made: [String: Topic] = [:]
        for name in names {
            let t = try topic(name)
            made[name] = t
            table.insert(t)
        }
        expectSame(table, made, pool: names + ["b", "a.b.c.d.e.f.g.h"])
    }

    /// Random inserts and removals over a pool of names, checked against a dictionary after
    /// every step: removals in the middle of probe runs (wrapping around the table's end,
    /// across growths) must leave every remaining topic findable.
    @Test func randomInsertsAndRemovalsAgreeWithADictionary() throws {
        var generator = HostileRandom(state: 17)  // deterministic: a failure reproduces
        let pool = (0..<300).map { "t.\($0)" }
        var table = TopicTable()
        var oracle: [String: Topic] = [:]
        for step in 0..<6_000 {
            let name = pool[Int(generator.next() % UInt64(pool.count))]
            if oracle[name] == nil, generator.next() % 3 != 0 {
                let t = try topic(name)
                table.insert(t)
                oracle[name] = t
            } else {
                let removed = table.remove(named: Array(name.utf8))
                #expect(removed === oracle[name])
                oracle[name] = nil
            }
            if step % 97 == 0 { expectSame(table, oracle, pool: pool) }
        }
        expectSame(table, oracle, pool: pool)
        for name in pool { table.remove(named: Array(name.utf8)) }
        #expect(table.count == 0)
        #expect(table.values.isEmpty)
    }

    /// The store frees topics through the table: made, looked up, freed, made again.
    @Test func theStoreFindsAndFreesTopicsThroughTheTable() throws {
        let store = LocalTopicStore(capacity: 8, maxTopics: 10_000)
        let scheduler = IdleScheduler()
        var subscriptions: [Subscription] = []
        for index in 0..<2_000 {
            let subscription = Subscription(pattern: Array("s.\(index)".utf8), isPattern: false,
                                            connectionToken: UInt64(index + 1), scheduler: scheduler)
            try store.subscribe(subscription)
            subscriptions.append(subscription)
        }
        #expect(store.existingTopic(Array("s.1999".utf8)) != nil)
        for subscription in subscriptions where subscription.connectionToken % 2 == 0 { store.unsubscribe(subscription) }
        for index in 0..<2_000 {
            let exists = store.existingTopic(Array("s.\(index)".utf8)) != nil
            #expect(exists == ((index + 1) % 2 == 1), "s.\(index)")
        }
    }

    /// The table holds one reference to each topic: a removed topic, a topic of a table that
    /// goes, and every topic across growths are freed when nothing else holds them; a copy
    /// keeps its topics while the original changes.
    @Test func topicsAreHeldOnceAndFreedWithTheTableAndACopyKeepsItsOwn() throws {
        weak var removed: Topic?
        weak var kept: Topic?
        var copy: TopicTable?
        do {
            var table = TopicTable()
            for index in 0..<100 { table.insert(try topic("n.\(index)")) }  // grows 16 -> 256
            removed = table["n.3".utf8.map { $0 }]
            kept = table["n.4".utf8.map { $0 }]
            #expect(removed != nil && kept != nil)
            copy = table
            table.remove(named: Array("n.3".utf8))
            table.remove(named: Array("n.4".utf8))
            #expect(copy?[Array("n.3".utf8)] === removed && copy?[Array("n.4".utf8)] === kept)
            #expect(copy?.count == 100 && table.count == 98)
            copy?.remove(named: Array("n.3".utf8))
        }
        #expect(removed == nil)  // out of both tables
        #expect(kept != nil)  // still in the copy
        copy = nil
        #expect(kept == nil)
    }
}
