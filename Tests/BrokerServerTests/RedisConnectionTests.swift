// The engine's Redis connection against a real redis-server: pipelining, pushes, loss and recovery.
import Dispatch
import Locks
import RESP
import Testing
@testable import Broker

@Suite(.serialized, .enabled(if: redisTestsEnabled, redisTestsSkipReason))
struct RedisConnectionTests {
    @Test func commandsArePipelinedAndEachReplyReachesItsOwnCallbackInOrder() throws {
        let redis = try RedisServer()
        let loop = try ReactorThread()
        defer { loop.stop() }
        let connection = try readyConnection(on: loop, port: redis.port)
        #expect(try call(connection, on: loop, redisCommand("SET", "k", "v")) == .success(.simpleString(redisBytes("OK"))))
        #expect(try call(connection, on: loop, redisCommand("GET", "k")) == .success(.bulkString(redisBytes("v"))))
        #expect(try call(connection, on: loop, redisCommand("GET", "missing")) == .success(.null))
        #expect(try call(connection, on: loop, redisCommand("NOSUCHCOMMAND")).map { $0.errorText?.hasPrefix("ERR") } == .success(true))
        // Ten thousand INCRs issued in one turn: written together, answered 1...10000 in order.
        let replies: [Int64] = try loop.ask { done in
            var seen: [Int64] = []
            for _ in 0..<10_000 {
                connection.send(redisCommand("INCR", "counter")) { result in
                    if case let .success(.integer(value)) = result { seen.append(value) } else { seen.append(-1) }
                    if seen.count == 10_000 { done(seen) }
                }
            }
        }
        #expect(replies == Array(1...10_000))
        // Binary values survive both ways.
        let binary: [UInt8] = Array(0...255) + [0x0D, 0x0A]
        #expect(try call(connection, on: loop, [redisBytes("SET"), redisBytes("b"), binary]) == .success(.simpleString(redisBytes("OK"))))
        #expect(try call(connection, on: loop, redisCommand("GET", "b")) == .success(.bulkString(binary)))
    }

    @Test func pubSubDeliveriesArriveAsPushes() throws {
        let redis = try RedisServer()
        let loop = try ReactorThread()
        defer { loop.stop() }
        let events = PthreadLock<[String]>([])
        let subscriber = try readyConnection(on: loop, port: redis.port, events: events)
        ConnectionHolder.shared.withLock { $0[redis.port] = nil }
        let publisher = try readyConnection(on: loop, port: redis.port)
        #expect(try loop.ask { done in done(subscriber.sendWithoutReply(redisCommand("SUBSCRIBE", "news"))) } == true)
        // The confirmation is a push; a PING after it on the same connection is answered in order.
        #expect(try call(subscriber, on: loop, redisCommand("PING")) == .success(.simpleString(redisBytes("PONG"))))
        #expect(try call(publisher, on: loop, redisCommand("PUBLISH", "news", "hello")) == .success(.integer(1)))
        // The publisher's reply came after Redis queued the delivery; a PING on the subscriber orders after it.
        #expect(try call(subscriber, on: loop, redisCommand("PING")) == .success(.simpleString(redisBytes("PONG"))))
        #expect(events.withLock { $0 } == ["ready", "push [\"subscribe\", \"news\"]", "push [\"message\", \"news\", \"hello\"]"])
    }

    @Test func aLostRedisFailsWhatWaitsAndWhatComesThenRecoversByItself() throws {
        let redis = try RedisServer()
        let port = redis.port
        let loop = try ReactorThread()
        defer { loop.stop() }
        let events = PthreadLock<[String]>([])
        let connection = try readyConnection(on: loop, port: port, events: events)
        #expect(try call(connection, on: loop, redisCommand("SET", "k", "1")) == .success(.simpleString(redisBytes("OK"))))
        // A command that blocks in Redis is awaiting its reply when Redis goes.
        let lost = DispatchSemaphore(value: 0)
        let outcome = PthreadLock<Result<RESPValue, RedisFailure>?>(nil)
        let issued: Bool = try loop.ask { done in
            connection.send(redisCommand("BLPOP", "nothing", "0")) { result in
                outcome.withLock { $0 = result }
                lost.signal()
            }
            done(connection.awaitingReplies == 1)
        }
        #expect(issued)
        redis.stop()
        #expect(lost.wait(timeout: .now() + 10) == .success)
        if case .failure(.connectionLost) = outcome.withLock({ $0 }) {} else {
            Issue.record("BLPOP ended with \(String(describing: outcome.withLock { $0 }))")
        }
        // While Redis is away, a command fails at once.
        let refused = try call(connection, on: loop, redisCommand("GET", "k"))
        if case .failure(.unavailable) = refused {} else { Issue.record("GET while away: \(refused)") }
        // Redis comes back on the same port (empty: no persistence): the connection is made again.
        let again = try RedisServer(port: port)
        let ready: Bool = try loop.ask(seconds: 15) { done in
            if connection.isReady { done(true); return }
            connection.onStateChange = { if $0 { done(true) } }
        }
        #expect(ready)
        #expect(try call(connection, on: loop, redisCommand("GET", "k")) == .success(.null))
        #expect(events.withLock { $0 }.prefix(2) == ["ready", "lost"])
        again.stop()
    }

    @Test func nobodyListeningMeansUnavailableAndRetries() throws {
        let port = try RedisServer.freePort()
        let loop = try ReactorThread()
        defer { loop.stop() }
        let failure: String = try loop.ask { done in
            let connection = RedisConnection(reactor: loop.reactor, endpoint: RedisEndpoint(host: "127.0.0.1", port: port))
            ConnectionHolder.shared.withLock { $0[port] = ConnectionBox(connection) }
            connection.start()
            connection.send(redisCommand("PING")) { result in
                if case let .failure(failure) = result { done(failure.description) } else { done("answered") }
            }
        }
        #expect(failure.hasPrefix("Redis is unavailable"))
        // Once a server listens there, the retries find it.
        let redis = try RedisServer(port: port)
        let connection = try #require(ConnectionHolder.shared.withLock { $0[port]?.connection })
        let ready: Bool = try loop.ask(seconds: 15) { done in
            if connection.isReady { done(true); return }
            connection.onStateChange = { if $0 { done(true) } }
        }
        #expect(ready)
        #expect(try call(connection, on: loop, redisCommand("PING")) == .success(.simpleString(redisBytes("PONG"))))
        loop.post { connection.close() }
        redis.stop()
    }
}
