// Three broker-server processes on one real redis-server (engine redis://...): one broker, as clients see it.
import Foundation
import Glibc
import Locks
import RESP
import Testing
@testable import Broker

/// Brokers pointed at one Redis, each ready (its log says it connected to Redis).
final class Cluster {
    var redis: RedisServer
    var nodes: [BrokerProcess] = []

    /// `lingerMs` 0 by default: a topic nobody reads is freed at once, here and in Redis.
    init(nodes count: Int, lingerMs: Int = 0, flags: [String] = [], redisPassword: String? = nil) throws {
        raiseOpenFileLimit()
        redis = try RedisServer(password: redisPassword)
        for _ in 0..<count { nodes.append(try startNode(flags: ["--linger-ms", String(lingerMs)] + flags)) }
    }

    /// A node on a free port, once its connection to Redis is ready.
    func startNode(flags: [String]) throws -> BrokerProcess {
        let node = try BrokerProcess.start(["--port", "0", "--engine", "redis://127.0.0.1:\(redis.port)",
                                            "--stats-interval-ms", "0"] + flags)
        try node.stderr.waitForLine(containing: "connected to Redis")
        return node
    }

    subscript(index: Int) -> BrokerProcess { nodes[index] }
}

/// A command to the cluster's Redis from the test, on a connection of its own.
final class RedisProbe {
    private let loop: ReactorThread
    private let connection: RedisConnection

    init(port: Int) throws {
        loop = try ReactorThread()
        connection = try readyConnection(on: loop, port: port)
    }

    func run(_ words: String...) throws -> RESPValue {
        guard case let .success(value) = try call(connection, on: loop, words.map(redisBytes)) else {
            throw ClientError("redis did not answer \(words)")
        }
        return value
    }

    deinit { loop.stop() }
}

@Suite(.serialized, .enabled(if: redisTestsEnabled, redisTestsSkipReason))
struct ClusterTests {
    /// The sequence of each `MSG` frame on `topic`, read until the frame with `marker` as payload.
    private func sequences(_ client: FrameClient, topic: String, until marker: String) throws -> (seqs: [UInt64], payloads: [String]) {
        var seqs: [UInt64] = []
        var payloads: [String] = []
        while true {
            let frame = try client.frame()
            guard case let .msg(name, seq?, payload) = frame, name == topic else {
                throw ClientError("unexpected frame \(frame)")
            }
            let text = String(decoding: payload, as: UTF8.self)
            if text == marker { return (seqs, payloads) }
            seqs.append(seq)
            payloads.append(text)
        }
    }

    /// A plain subscriber to `name` on every node: once each has read `marker`, every node has
    /// handed on what came before it (each node's members were served in that pass too).
    private func watchers(_ cluster: Cluster, _ name: String) throws -> [FrameClient] {
        try cluster.nodes.map { node in
            let watcher = try node.frameClient()
            let reply = try watcher.request("SUB \(name)")
            #expect(reply.subscribeReply != nil || reply == .ok(nil), "\(reply)")
            return watcher
        }
    }

    /// Reads each watcher's messages up to the one whose payload is `marker`.
    private func awaitMarker(_ watchers: [FrameClient], _ marker: String) throws {
        for watcher in watchers {
            while try watcher.frame().text != marker {}
        }
    }

    /// The payloads each member has received so far (a PING round trip orders them), and how
    /// many went to each node's members (`perNode` members per node, in order).
    private func takeMessages(_ members: [FrameClient], perNode: Int) throws -> (all: [String], perNode: [Int]) {
        var all: [String] = []
        var counts = [Int](repeating: 0, count: (members.count + perNode - 1) / perNode)
        for (index, member) in members.enumerated() {
            try member.send("PING done")
            let texts = try member.frames(untilPong: "done").compactMap(\.text)
            all += texts
            counts[index / perNode] += texts.count
        }
        return (all, counts)
    }

    @Test func aMessagePublishedOnOneNodeReachesEveryNodeWithOnePosition() throws {
        let cluster = try Cluster(nodes: 3)
        let subscribers = try (0..<3).map { try cluster[$0].frameClient() }
        var heads: [String] = []
        for subscriber in subscribers {
            let reply = try subscriber.request("SUB news")
            let position = try #require(reply.subscribeReply, "\(reply)")
            #expect(position.head == 0)
            heads.append(position.epoch)
        }
        #expect(Set(heads).count == 1, "every node reports the same stream: \(heads)")
        let publisher = try cluster[0].frameClient()
        let published = try #require(try publisher.request("PUB news hello").publishReply)
        #expect(published.epoch == heads[0])
        #expect(published.seq == 1)
        #expect(published.count == 3, "OK <n> counts the nodes that follow the topic")
        #expect(try publisher.request("PUB news end").publishReply?.seq == 2)
        for subscriber in subscribers {
            let read = try sequences(subscriber, topic: "news", until: "end")
            #expect(read.seqs == [1])
            #expect(read.payloads == ["hello"])
        }
        // Redis keeps a followed stream while nodes renew it (linger_ms 0 here, plus 15 s);
        // one nobody follows is freed at once with linger_ms 0, as a broker on its own frees it.
        let probe = try RedisProbe(port: cluster.redis.port)
        guard case let .integer(ttl) = try probe.run("PTTL", "broker:{news}:m") else { throw ClientError("no PTTL") }
        #expect(ttl > 0 && ttl <= 15_000, "\(ttl)")
        let lonely = try #require(try publisher.request("PUB nobody x").publishReply)
        #expect(lonely.count == 0 && lonely.seq == 1)
        #expect(try probe.run("EXISTS", "broker:{nobody}:m", "broker:{nobody}:s") == .integer(0))
        #expect(try publisher.request("PUB nobody y").publishReply?.epoch != lonely.epoch, "a stream made and freed at once, each time")
        // A version 1 publisher gets the same count; STATS names the stream's epoch and head on every node.
        let versionOne = try cluster[1].frameClient(version: 1)
        #expect(try versionOne.request("PUB news three") == .ok("3"))
        for index in 0..<3 {
            let observer = try cluster[index].frameClient()
            let figures = try #require(try topicStats(observer, "news"))
            #expect(figures["epoch"] == heads[0])
            _ = try poll(observer) { try topicStats(observer, "news")?["head"] == "3" }
        }
    }

    @Test func publishersOnEveryNodeAtOnceGiveEverySubscriberTheSameOrder() throws {
        let cluster = try Cluster(nodes: 3)
        let subscribers = try (0..<3).map { try cluster[$0].frameClient() }
        for subscriber in subscribers { #expect(try subscriber.request("SUB load").subscribeReply != nil) }
        let perNode = 33_334  // 100,002 in all
        let lock = PthreadLock<[String]>([])
        let ports = (0..<3).map { cluster[$0].port }
        let done = DispatchGroup()
        for index in 0..<3 {
            let port = ports[index]
            DispatchQueue.global().async(group: done) {
                do {
                    let publisher = try FrameClient(port: port)
                    try publisher.hello(2)
                    var lines = ""
                    for n in 0..<perNode { lines += "PUB load n\(index)-\(n)\n" }
                    try publisher.sendRaw(lines)
                    for _ in 0..<perNode {
                        let frame = try publisher.frame()
                        if frame.publishReply == nil { lock.withLock { $0.append("node \(index): \(frame)") } }
                    }
                } catch {
                    lock.withLock { $0.append("node \(index): \(error)") }
                }
            }
        }
        #expect(done.wait(timeout: .now() + 60) == .success)
        #expect(lock.withLock { $0 }.isEmpty, "\(lock.withLock { $0 })")
        let marker = try cluster[0].frameClient()
        _ = try marker.request("PUB load end")
        var orders: [[String]] = []
        for subscriber in subscribers {
            let read = try sequences(subscriber, topic: "load", until: "end")
            #expect(read.seqs == Array(1...UInt64(3 * perNode)), "no gap, no repeat, in sequence order")
            orders.append(read.payloads)
        }
        #expect(orders[0] == orders[1] && orders[1] == orders[2], "every node delivers the same order")
        // Each publisher's messages keep their order within the stream.
        for index in 0..<3 {
            let mine = orders[0].filter { $0.hasPrefix("n\(index)-") }
            #expect(mine == (0..<perNode).map { "n\(index)-\($0)" })
        }
    }

    @Test func aSubscriberThatNeverReadsIsToldExactlyWhatItMissedAcrossNodes() throws {
        let cluster = try Cluster(nodes: 2, flags: ["--capacity", "64"])
        // $SYS topics are per node: the lag happens on node 1 and is announced there only.
        let events = try cluster[1].frameClient()
        #expect(try events.request("SUB $SYS.lagged").subscribeReply != nil)
        let elsewhere = try cluster[0].frameClient()
        _ = try elsewhere.request("SUB $SYS.lagged")
        let slow = try FrameClient(port: cluster[1].port, receiveBuffer: 4096)
        try slow.hello(2)
        #expect(try slow.request("SUB flood").subscribeReply?.head == 0)
        let publisher = try cluster[0].frameClient()
        let total = 20_000
        let payload = String(repeating: "x", count: 100)
        var lines = ""
        for _ in 0..<total { lines += "PUB flood \(payload)\n" }
        try publisher.sendRaw(lines)
        for _ in 0..<total { _ = try publisher.frame() }
        #expect(try publisher.request("PUB flood end").publishReply?.seq == UInt64(total + 1))
        var received = 0
        var missed: UInt64 = 0
        var last: UInt64 = 0
        var lagSinceLast: UInt64 = 0
        while true {
            let frame = try slow.frame()
            switch frame {
            case let .msg(_, seq?, payload):
                #expect(seq - last - 1 == lagSinceLast, "between \(last) and \(seq) stand LAGGED frames adding up to the gap")
                last = seq
                lagSinceLast = 0
                if String(decoding: payload, as: UTF8.self) == "end" {
                    #expect(UInt64(received) + missed == UInt64(total), "MSG + LAGGED = published")
                    #expect(missed > 0, "the subscriber did lag")
                    guard case let .msg(topic, _, payload) = try events.frame() else { throw ClientError("no lag event") }
                    #expect(topic == "$SYS.lagged" && String(decoding: payload, as: UTF8.self).hasPrefix("topic=flood "))
                    #expect(try topicStats(elsewhere, "$SYS.lagged")?["head"] ?? "0" == "0", "node 0 saw no lag")
                    return
                }
                received += 1
            case let .lagged(_, count):
                missed += count
                lagSinceLast += count
            default:
                Issue.record("unexpected \(frame)")
                return
            }
        }
    }

    @Test func aPositionTakenOnOneNodeResumesOnAnother() throws {
        let cluster = try Cluster(nodes: 2, lingerMs: 60_000)
        let first = try cluster[0].frameClient()
        let epoch = try #require(try first.request("SUB orders").subscribeReply?.epoch)
        let publisher = try cluster[0].frameClient()
        for n in 1...5 { _ = try publisher.request("PUB orders m\(n)") }
        let read = try (0..<5).map { _ in try first.frame() }
        #expect(read.last == .msg(topic: "orders", seq: 5, payload: Array("m5".utf8)))
        first.kill()
        for n in 6...9 { _ = try publisher.request("PUB orders m\(n)") }
        // Resumed on the other node, where nobody followed the topic before.
        let second = try cluster[1].frameClient()
        let reply = try second.request("SUB orders from=\(epoch):5")
        #expect(reply.subscribeReply?.epoch == epoch)
        #expect(reply.subscribeReply?.head == 9)
        let rest = try second.take(4)
        #expect(rest.map(\.text) == ["m6", "m7", "m8", "m9"])
        #expect(rest.first == .msg(topic: "orders", seq: 6, payload: Array("m6".utf8)))
        // last= reads the stream too, and a position of another epoch is not honored.
        let third = try cluster[1].frameClient()
        #expect(try third.request("SUB orders last=2").subscribeReply?.head == 9)
        #expect(try third.take(2).map(\.text) == ["m8", "m9"])
        let fourth = try cluster[0].frameClient()
        #expect(try fourth.request("SUB orders from=zzzz:3").subscribeReply?.head == 9)
        _ = try publisher.request("PUB orders m10")
        #expect(try fourth.frame() == .msg(topic: "orders", seq: 10, payload: Array("m10".utf8)))
    }

    @Test func aResumeAfterANodeIsKilledGetsWhatTheStreamHolds() throws {
        let cluster = try Cluster(nodes: 2, lingerMs: 60_000, flags: ["--capacity", "8"])
        let subscriber = try cluster[1].frameClient()
        let epoch = try #require(try subscriber.request("SUB jobs").subscribeReply?.epoch)
        let publisher = try cluster[0].frameClient()
        _ = try publisher.request("PUB jobs j1")
        #expect(try subscriber.frame().text == "j1")
        cluster[1].kill()
        for n in 2...20 { _ = try publisher.request("PUB jobs j\(n)") }
        let again = try cluster[0].frameClient()
        #expect(try again.request("SUB jobs from=\(epoch):1").subscribeReply?.head == 20)
        // 19 published since: the stream holds the last 8, the 11 before are one LAGGED.
        #expect(try again.frame() == .lagged(topic: "jobs", count: 11))
        #expect(try again.take(8).map(\.text) == (13...20).map { "j\($0)" })
    }

    @Test func aQueueGroupWithMembersOnThreeNodesGetsEachMessageOnceInTotal() throws {
        let cluster = try Cluster(nodes: 3)
        var members: [FrameClient] = []
        for index in 0..<3 {
            for version in [2, index == 1 ? 1 : 2] {
                let member = try cluster[index].frameClient()
                #expect(try member.request("SUB work group=w").subscribeReply != nil)
                if version == 1 { try member.hello(1) }  // a version 1 reader in the group (subscriptions stay)
                members.append(member)
            }
        }
        let watcher = try cluster[2].frameClient()
        #expect(try watcher.request("SUB work").subscribeReply != nil, "a plain subscription beside the group gets everything")
        let markers = try watchers(cluster, "work")
        let publisher = try cluster[0].frameClient()
        let total = 300
        for n in 1...total {
            let reply = try publisher.request("PUB work t\(n)")
            #expect(reply.publishReply?.count == 3, "\(reply)")
        }
        #expect(try publisher.request("PUB work end").publishReply?.seq == UInt64(total + 1))
        #expect(try sequences(watcher, topic: "work", until: "end").seqs == Array(1...UInt64(total)))
        try awaitMarker(markers, "end")
        let (seen, perNode) = try takeMessages(members, perNode: 2)
        #expect(seen.count == total + 1, "each message to exactly one member in the whole cluster")
        #expect(Set(seen) == Set((1...total).map { "t\($0)" } + ["end"]))
        #expect(perNode.allSatisfy { $0 > 0 }, "every node's members take a share: \(perNode)")
        // A node whose members all leave gives its share back.
        members[0].kill()
        members[1].kill()
        let observer = try cluster[0].frameClient()
        let probe = try RedisProbe(port: cluster.redis.port)
        let released = try poll(observer) {
            try probe.run("HLEN", "broker:{work}:q") == .integer(2)
        }
        #expect(released != nil, "node 0 took its registration back")
        for n in 1...30 { _ = try publisher.request("PUB work again\(n)") }
        _ = try publisher.request("PUB work end2")
        try awaitMarker(markers, "end2")
        var rest: [String] = []
        for member in members[2...] {
            try member.send("PING done2")
            rest += try member.frames(untilPong: "done2").compactMap(\.text)
        }
        #expect(rest.count == 31, "the members left get everything, once")
    }

    @Test func aPatternsQueueGroupAcrossThreeNodesGetsEachMessageOnceInTotal() throws {
        let cluster = try Cluster(nodes: 3)
        var members: [FrameClient] = []
        for index in 0..<3 {
            for _ in 0..<2 {
                let member = try cluster[index].frameClient()
                #expect(try member.request("SUB jobs.* group=workers") == .ok(nil))
                members.append(member)
            }
        }
        let other = try cluster[0].frameClient()
        #expect(try other.request("SUB jobs.* group=auditors") == .ok(nil), "another group of the same pattern gets everything too")
        let markers = try watchers(cluster, "jobs.end")
        let publisher = try cluster[1].frameClient()
        let topics = ["jobs.a", "jobs.b", "jobs.c", "other.a"]
        var expected: [String] = []
        for n in 1...240 {
            let topic = topics[n % topics.count]
            _ = try publisher.request("PUB \(topic) \(topic)-\(n)")
            if topic.hasPrefix("jobs.") { expected.append("\(topic)-\(n)") }
        }
        _ = try publisher.request("PUB jobs.end end")
        try awaitMarker(markers, "end")
        let (seen, perNode) = try takeMessages(members, perNode: 2)
        #expect(seen.count == expected.count + 1, "each message to exactly one member of the group in the whole cluster")
        #expect(Set(seen) == Set(expected + ["end"]))
        #expect(perNode.allSatisfy { $0 > 0 }, "every node's members take a share: \(perNode)")
        try other.send("PING done")
        #expect(Set(try other.frames(untilPong: "done").compactMap(\.text)) == Set(expected + ["end"]))
    }

    @Test func publishesAreRefusedWhileRedisIsAwayAndWorkAgainWhenItIsBack() throws {
        let metricsPort = try RedisServer.freePort()
        let cluster = try Cluster(nodes: 1)
        try cluster.nodes.append(cluster.startNode(flags: ["--linger-ms", "0", "--metrics-port", String(metricsPort)]))
        try cluster[1].stdout.waitForLine(containing: "metrics listening on ")
        #expect(try get(metricsPort, "/healthz").status == 200)
        let subscriber = try cluster[1].frameClient()
        let before = try #require(try subscriber.request("SUB alerts").subscribeReply?.epoch)
        let publisher = try cluster[0].frameClient()
        #expect(try publisher.request("PUB alerts one").publishReply != nil)
        #expect(try subscriber.frame().text == "one")
        let port = cluster.redis.port
        cluster.redis.stop()
        let refused = try publisher.request("PUB alerts two")
        #expect(refused.errCode == "engine-unavailable", "\(refused)")
        #expect(try publisher.request("PUB alerts three").errCode == "engine-unavailable")
        #expect(try subscriber.request("SUB other").errCode == "engine-unavailable")
        // The subscriber stays connected; /healthz says the engine is away; the log says so.
        #expect(try subscriber.request("PING") == .pong(nil))
        let health = try get(metricsPort, "/healthz")
        #expect(health.status == 503)
        #expect(health.body.joined().contains("engine unreachable"))
        try cluster[0].stderr.waitForLine(containing: "is unreachable")
        // Redis comes back empty: the nodes reconnect by themselves; the stream is a new one.
        let restarted = try RedisServer(port: port)
        for node in [cluster[0], cluster[1]] {
            let first = try node.stderr.waitForLine(containing: "connected to Redis")
            try node.stderr.waitForLine(containing: "connected to Redis", from: first + 1)
        }
        let reset = try subscriber.frame()
        guard case let .bye(code, _) = reset else {
            Issue.record("expected BYE stream-reset, got \(reset)")
            return
        }
        #expect(code == "stream-reset")
        let resumed = try cluster[1].frameClient()
        let reply = try #require(try resumed.request("SUB alerts from=\(before):1").subscribeReply)
        #expect(reply.epoch != before, "a new stream, visibly: the position is not honored")
        #expect(try publisher.request("PUB alerts four").publishReply?.epoch == reply.epoch)
        #expect(try resumed.frame().text == "four")
        #expect(try get(metricsPort, "/healthz").status == 200)
        withExtendedLifetime(restarted) {}
    }

    @Test func aPatternSubscriberOnOneNodeGetsWhatIsPublishedOnAnother() throws {
        let cluster = try Cluster(nodes: 2)
        let watcher = try cluster[1].frameClient()
        #expect(try watcher.request("SUB sensors.*.temp") == .ok(nil))
        let everything = try cluster[1].frameClient()
        #expect(try everything.request("SUB sensors.>") == .ok(nil))
        let publisher = try cluster[0].frameClient()
        for (topic, text) in [("sensors.a.temp", "1"), ("sensors.a.humidity", "2"), ("sensors.b.temp", "3"), ("other.b.temp", "4"),
                              ("sensors.a.temp", "5"), ("sensors.a.b.temp", "6")] {
            _ = try publisher.request("PUB \(topic) \(text)")
        }
        _ = try publisher.request("PUB sensors.end.temp end")
        var seen: [String] = []
        while true {
            guard case let .msg(topic, seq?, payload) = try watcher.frame() else { throw ClientError("not a MSG") }
            let text = String(decoding: payload, as: UTF8.self)
            if text == "end" { break }
            seen.append("\(topic) \(seq) \(text)")
        }
        #expect(seen == ["sensors.a.temp 1 1", "sensors.b.temp 1 3", "sensors.a.temp 2 5"], "each topic's own sequence")
        var all: [String] = []
        while true {
            guard case let .msg(_, _, payload) = try everything.frame() else { throw ClientError("not a MSG") }
            let text = String(decoding: payload, as: UTF8.self)
            if text == "end" { break }
            all.append(text)
        }
        #expect(all == ["1", "2", "3", "5", "6"])
    }

    @Test func aNodeWhoseRedisConnectionIsCutCatchesUpWithoutLosingAMessage() throws {
        let cluster = try Cluster(nodes: 2, lingerMs: 60_000)
        let probe = try RedisProbe(port: cluster.redis.port)
        let subscriber = try cluster[1].frameClient()
        #expect(try subscriber.request("SUB feed").subscribeReply?.head == 0)
        let publisher = try cluster[0].frameClient()
        for n in 1...50 { _ = try publisher.request("PUB feed m\(n)") }
        // Redis drops every Pub/Sub connection (both nodes'): node 2 misses what comes meanwhile.
        _ = try probe.run("CLIENT", "KILL", "TYPE", "pubsub")
        var n = 51
        while n <= 300 {
            let reply = try publisher.request("PUB feed m\(n)")
            if reply.publishReply != nil { n += 1 } else { #expect(reply.errCode == "engine-unavailable", "\(reply)") }
        }
        _ = try publisher.request("PUB feed end")
        let read = try sequences(subscriber, topic: "feed", until: "end")
        #expect(read.seqs == Array(1...300), "after its reconnect the node read what it missed from the stream, in order")
        #expect(read.payloads == (1...300).map { "m\($0)" })
        // It did lose its connection, and made it again by itself.
        let lost = try cluster[1].stderr.waitForLine(containing: "is unreachable")
        try cluster[1].stderr.waitForLine(containing: "connected to Redis", from: lost)
    }

    @Test func aRedisWithAPasswordTakesTheNodesThatKnowIt() throws {
        let file = try ConfigFile(["  s3cret-pass  "])  // surrounding whitespace is not part of it
        let cluster = try Cluster(nodes: 2, flags: ["--engine-password-file", file.path], redisPassword: "s3cret-pass")
        let subscriber = try cluster[1].frameClient()
        #expect(try subscriber.request("SUB locked").subscribeReply != nil)
        let publisher = try cluster[0].frameClient()
        #expect(try publisher.request("PUB locked in").publishReply?.count == 1)
        #expect(try subscriber.frame().text == "in")
        // A node without the password never gets in: its publishes are refused, and it says why.
        let outsider = try BrokerProcess.start(["--port", "0", "--engine", "redis://127.0.0.1:\(cluster.redis.port)"])
        defer { outsider.kill() }
        let client = try outsider.frameClient()
        #expect(try client.request("PUB locked out").errCode == "engine-unavailable")
        let logged = try outsider.stderr.waitForLine(containing: "cannot reach Redis")
        #expect(outsider.stderr.lines[logged].contains("NOAUTH") || outsider.stderr.lines[logged].contains("WRONGPASS")
                || outsider.stderr.lines[logged].contains("HELLO"), "\(outsider.stderr.lines[logged])")
        #expect(!outsider.stderr.lines.contains { $0.contains("s3cret") })
    }

    @Test func eachNodesRedisSubscriptionsFollowItsClients() throws {
        let cluster = try Cluster(nodes: 3)
        let probe = try RedisProbe(port: cluster.redis.port)
        let topics = 10_000
        var clients: [FrameClient] = []
        for index in 0..<3 {
            let client = try cluster[index].frameClient()
            var lines = ""
            for n in 0..<topics where n % 3 == index || n < 10 { lines += "SUB t.\(n)\n" }
            let expected = (0..<topics).filter { $0 % 3 == index || $0 < 10 }.count
            try client.sendRaw(lines)
            for _ in 0..<expected {
                let frame = try client.frame()
                #expect(frame.subscribeReply != nil, "\(frame)")
            }
            let pattern = try client.request("SUB t.*")
            #expect(pattern == .ok(nil))
            clients.append(client)
        }
        #expect(try probe.run("PUBSUB", "NUMPAT") == .integer(1), "one pattern (PUBSUB NUMPAT counts patterns, not subscribers)")
        let channels = try probe.run("PUBSUB", "CHANNELS", "broker:*").elements?.count
        #expect(channels == topics, "one Redis subscription per topic a node's clients read")
        let numsub = try probe.run("PUBSUB", "NUMSUB", "broker:{t.0}:c", "broker:{t.11}:c").elements
        #expect(numsub?[1] == .integer(3), "three nodes read t.0")
        #expect(numsub?[3] == .integer(1), "one node reads t.11")
        for client in clients { client.kill() }
        let observer = try cluster[0].frameClient()
        let emptied = try poll(observer, guardSeconds: 20) {
            try probe.run("PUBSUB", "CHANNELS", "broker:*").elements?.isEmpty == true
                && probe.run("PUBSUB", "NUMPAT") == .integer(0)
        }
        #expect(emptied != nil, "every node let go of its Redis subscriptions when its clients left")
    }
}
