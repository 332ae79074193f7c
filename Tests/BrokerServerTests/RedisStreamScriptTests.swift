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
        var reply = try call(connection, on: loop, StreamScript.publish(payload, keys: keys, capacity: capacity,
                                                                        candidateEpoch: redisBytes(epoch)))
        if case let .success(value) = reply, StreamScript.isNoScript(value) {
            reply = try call(connection, on: loop, StreamScript.publish(payload, keys: keys, capacity: capacity,
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
        let first = try call(publisher, on: loop, StreamScript.publish(redisBytes("m1"), keys: keys, capacity: 10,
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
            list.compactMap { push -> ChannelMessage? in
                guard let items = push.elements, items.count == 3, items[0].bytes == redisBytes("message"),
                      let data = items[2].bytes else { return nil }
                return ChannelMessage.parse(data)
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

        // A topic nobody subscribes to reaches no node.
        let quiet = RedisTopicKeys(prefix: redisBytes("t:"), topic: redisBytes("quiet"))
        #expect(try publish(publisher, on: loop, redisBytes("x"), keys: quiet, capacity: 10)?.nodes == 0)
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
