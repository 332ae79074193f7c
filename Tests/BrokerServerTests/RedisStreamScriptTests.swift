// The cluster engine's publish script in a real redis-server: sequences, epochs, trimming, fan-out, back-fill reads.
import Locks
import RESP
import Testing
@testable import Broker

@Suite(.serialized, .enabled(if: redisTestsEnabled, redisTestsSkipReason))
struct RedisStreamScriptTests {
    /// Publishes `payload` with the script, loading it when Redis does not have it yet.
    private func publish(_ connection: RedisConnection, on loop: ReactorThread, _ payload: [UInt8], keys: RedisTopicKeys,
                         capacity: Int, epoch: String = "cand") throws -> StreamScript.Published? {
        var reply = try call(connection, on: loop, StreamScript.publish(PayloadBatch([payload]), keys: keys, capacity: capacity,
                                                                        candidateEpoch: redisBytes(epoch)))
        if case let .success(value) = reply, StreamScript.isNoScript(value) {
            reply = try call(connection, on: loop, StreamScript.publish(PayloadBatch([payload]), keys: keys, capacity: capacity,
                                                                        candidateEpoch: redisBytes(epoch), loading: true))
        }
        guard case let .success(value) = reply else { return nil }
        return StreamScript.published(from: value)
    }

    @Test func sequencesEpochTrimmingAndFanOutComeFromOneScript() throws {
        let redis = try RedisServer()
        let loop = try ReactorThread()
        defer { loop.stop() }
        let keys = RedisTopicKeys(prefix: redisBytes("t:"), topic: redisBytes("orders"))
        let pushes = PthreadLock<[RESPValue]>([])
        let node = try readyConnection(on: loop, port: redis.port, pushes: pushes)
        ConnectionHolder.shared.withLock { $0[redis.port] = nil }
        let publisher = try readyConnection(on: loop, port: redis.port)
        #expect(try loop.ask { done in done(node.sendWithoutReply([redisBytes("SUBSCRIBE"), keys.channel])) } == true)
        #expect(try call(node, on: loop, redisCommand("PING")) == .success(.simpleString(redisBytes("PONG"))))

        // A fresh Redis does not have the script: the first EVALSHA is answered NOSCRIPT, EVAL loads it.
        let first = try call(publisher, on: loop, StreamScript.publish(PayloadBatch([redisBytes("m1")]), keys: keys, capacity: 10,
                                                                       candidateEpoch: redisBytes("e-one")))
        #expect(first.map(StreamScript.isNoScript) == .success(true))
        let payloads: [[UInt8]] = (1...100).map { redisBytes("m\($0)") } + [Array(0...255) + redisBytes(" \r\n x")]
        var results: [StreamScript.Published] = []
        for payload in payloads {
            guard let published = try publish(publisher, on: loop, payload, keys: keys, capacity: 10, epoch: "e-one") else {
                Issue.record("no reply for a publish")
                return
            }
            results.append(published)
        }
        #expect(results.map(\.seq) == Array(1...101))
        #expect(Set(results.map(\.epoch)) == [redisBytes("e-one")])
        #expect(results.allSatisfy { $0.nodes == 1 })

        // The node got every message on the channel, in order, whole (PING's reply comes after them).
        #expect(try call(node, on: loop, redisCommand("PING")) == .success(.simpleString(redisBytes("PONG"))))
        let received = pushes.withLock { list in
            list.flatMap { push -> [ChannelMessage] in
                guard let items = push.elements, items.count == 3, items[0].bytes == redisBytes("message"),
                      let data = items[2].bytes else { return [] }
                return ChannelMessage.parseBatch(data) ?? []
            }
        }
        #expect(received.map(\.seq) == Array(1...101))
        #expect(received.map(\.payload) == payloads)
        #expect(Set(received.map(\.epoch)) == [redisBytes("e-one")])

        // The stream holds the newest `capacity`; a read after a sequence gets what is still there.
        #expect(try call(publisher, on: loop, [redisBytes("XLEN"), keys.stream]) == .success(.integer(10)))
        let tail = try call(publisher, on: loop, StreamEntries.read(keys, after: 95, count: 100))
        let entries = try tail.get()
        #expect(StreamEntries.parse(entries)?.map(\.seq) == Array(96...101))
        #expect(StreamEntries.parse(entries)?.last?.payload == payloads.last)
        let all = try call(publisher, on: loop, StreamEntries.read(keys, after: 0, count: 100)).get()
        #expect(StreamEntries.parse(all)?.map(\.seq) == Array(92...101), "older entries are trimmed")

        // A batch takes consecutive sequences, as one stream entry and one channel message.
        let batch = try call(publisher, on: loop, StreamScript.publish(PayloadBatch([redisBytes("b1"), redisBytes("b2"), redisBytes("b3")]),
                                                                       keys: keys, capacity: 10, candidateEpoch: redisBytes("e-one")))
        #expect(StreamScript.published(from: try batch.get()) == StreamScript.Published(epoch: redisBytes("e-one"), seq: 102, nodes: 1))
        let read = try call(publisher, on: loop, StreamEntries.read(keys, after: 102, count: 100)).get()
        #expect(StreamEntries.parse(read)?.map(\.seq) == [102, 103, 104], "the entry holding 103 and 104 starts at 102")
        #expect(try call(node, on: loop, redisCommand("PING")) == .success(.simpleString(redisBytes("PONG"))))
        #expect(pushes.withLock { $0.last.flatMap { $0.elements?[2].bytes }.flatMap(ChannelMessage.parseBatch)?.map(\.seq) } == [102, 103, 104])

        // A topic nobody subscribes to reaches no node.
        let quiet = RedisTopicKeys(prefix: redisBytes("t:"), topic: redisBytes("quiet"))
        #expect(try publish(publisher, on: loop, redisBytes("x"), keys: quiet, capacity: 10)?.nodes == 0)
    }

    @Test func eachBatchGoesToOneRegisteredNodePerQueueGroupInTurn() throws {
        let redis = try RedisServer()
        let loop = try ReactorThread()
        defer { loop.stop() }
        let keys = RedisTopicKeys(prefix: redisBytes("t:"), topic: redisBytes("work"))
        let connection = try readyConnection(on: loop, port: redis.port)
        func register(_ field: String, ttl: Int) throws {
            #expect(try call(connection, on: loop, [redisBytes("EVAL"), redisBytes(RedisTopicStore.registrationScript), redisBytes("1"),
                                                    keys.groups, redisBytes(field), redisBytes(String(ttl))]) == .success(.integer(1)))
        }
        func assignments(_ count: Int) throws -> [String] {
            try (0..<count).map { _ in
                _ = try publish(connection, on: loop, redisBytes("x"), keys: keys, capacity: 100)
                let read = try call(connection, on: loop, [redisBytes("XREVRANGE"), keys.stream, redisBytes("+"), redisBytes("-"),
                                                           redisBytes("COUNT"), redisBytes("1")]).get()
                return String(decoding: StreamEntries.parse(read)?.last?.assign ?? [], as: UTF8.self)
            }
        }
        #expect(try assignments(1) == ["-"], "no group: no assignment")
        try register("g nodeB", ttl: 60_000)
        try register("g nodeA", ttl: 60_000)
        try register("h nodeA", ttl: 60_000)
        let four = try assignments(4)
        #expect(Set(four.map { $0.hasPrefix("g=nodeA,") || $0.hasPrefix("g=nodeB,") }) == [true])
        #expect(four.allSatisfy { $0.hasSuffix(",h=nodeA") })
        #expect(Set(four.map { $0.prefix(7) }).count == 2, "g's batches alternate between its two nodes: \(four)")
        // An expired registration is dropped by the next publish.
        try register("g nodeB", ttl: -1)
        #expect(try assignments(3) == Array(repeating: "g=nodeA,h=nodeA", count: 3))
        #expect(try call(connection, on: loop, [redisBytes("HEXISTS"), keys.groups, redisBytes("g nodeB")]) == .success(.integer(0)))
    }

    @Test func thePatternsThatMatchATopicGiveItsBatchesToTheirGroups() throws {
        let redis = try RedisServer()
        let loop = try ReactorThread()
        defer { loop.stop() }
        let connection = try readyConnection(on: loop, port: redis.port)
        let patterns = RedisTopicKeys.patternGroups(prefix: redisBytes("t:"))
        for field in ["orders.* w nodeA", "orders.> w2 nodeB", "*.eu w3 nodeC", "orders w4 nodeD", "orders.*.x w5 nodeE"] {
            #expect(try call(connection, on: loop, [redisBytes("EVAL"), redisBytes(RedisTopicStore.registrationScript), redisBytes("1"),
                                                    patterns, redisBytes(field), redisBytes("60000")]) == .success(.integer(1)))
        }
        func assignment(_ topic: String) throws -> Set<String> {
            let keys = RedisTopicKeys(prefix: redisBytes("t:"), topic: redisBytes(topic))
            _ = try publish(connection, on: loop, redisBytes("x"), keys: keys, capacity: 10)
            let read = try call(connection, on: loop, [redisBytes("XREVRANGE"), keys.stream, redisBytes("+"), redisBytes("-"),
                                                       redisBytes("COUNT"), redisBytes("1")]).get()
            let assign = String(decoding: StreamEntries.parse(read)?.last?.assign ?? [], as: UTF8.self)
            return assign == "-" ? [] : Set(assign.split(separator: ",").map(String.init))
        }
        func named(_ group: String, _ pattern: String, _ node: String) -> String {
            String(decoding: PatternGroup.key(pattern: redisBytes(pattern), group: redisBytes(group)), as: UTF8.self) + "=" + node
        }
        #expect(try assignment("orders.eu") == [named("w", "orders.*", "nodeA"), named("w2", "orders.>", "nodeB"),
                                                 named("w3", "*.eu", "nodeC")])
        #expect(try assignment("orders.eu.x") == [named("w2", "orders.>", "nodeB"), named("w5", "orders.*.x", "nodeE")])
        #expect(try assignment("orders") == [named("w4", "orders", "nodeD")])
        #expect(try assignment("stock.us") == [])
    }

    @Test func keysLostInRedisStartANewStreamVisibly() throws {
        let redis = try RedisServer()
        let loop = try ReactorThread()
        defer { loop.stop() }
        let keys = RedisTopicKeys(prefix: redisBytes("t:"), topic: redisBytes("x"))
        let connection = try readyConnection(on: loop, port: redis.port)
        for _ in 1...5 { _ = try publish(connection, on: loop, redisBytes("a"), keys: keys, capacity: 100, epoch: "old") }
        // Another node's candidate does not replace an epoch that exists.
        #expect(try publish(connection, on: loop, redisBytes("b"), keys: keys, capacity: 100, epoch: "other")
            == StreamScript.Published(epoch: redisBytes("old"), seq: 6, nodes: 0))
        // The meta hash evicted, the stream left: a new epoch from the candidate, sequences from 1, the old entries gone.
        #expect(try call(connection, on: loop, [redisBytes("DEL"), keys.meta]) == .success(.integer(1)))
        #expect(try publish(connection, on: loop, redisBytes("c"), keys: keys, capacity: 100, epoch: "new")
            == StreamScript.Published(epoch: redisBytes("new"), seq: 1, nodes: 0))
        #expect(try call(connection, on: loop, [redisBytes("XLEN"), keys.stream]) == .success(.integer(1)))
        // Everything gone (a Redis restarted empty): the same.
        #expect(try call(connection, on: loop, [redisBytes("FLUSHALL")]) == .success(.simpleString(redisBytes("OK"))))
        #expect(try publish(connection, on: loop, redisBytes("d"), keys: keys, capacity: 100, epoch: "newer")
            == StreamScript.Published(epoch: redisBytes("newer"), seq: 1, nodes: 0))
    }
}
