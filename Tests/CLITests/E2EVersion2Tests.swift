// Version 2 end to end against the real broker-server: resuming after a drop, a restart, BPUB, sub's new options, the burst.
import BrokerClient
import Foundation
import Protocol
import Testing
#if canImport(Glibc)
import Glibc
#endif


/// The lines `first...last`, one number each, as stdin for `pub`.
private func numbers(_ range: ClosedRange<Int>) -> [UInt8] {
    Array(range.map(String.init).joined(separator: "\n").utf8) + [0x0A]
}

/// Reads events until a message with sequence `seq` (inclusive); every event on the way.
private func events(until seq: UInt64, from connection: BrokerConnection) throws -> [BrokerEvent] {
    var seen: [BrokerEvent] = []
    while true {
        guard let event = try connection.nextEvent(until: .now.advanced(by: .seconds(20))) else {
            throw E2EFailure("the connection ended after \(seen.count) events")
        }
        seen.append(event)
        if case let .message(message) = event, message.seq == seq { return seen }
    }
}

/// The package directory (for conf/broker.conf).
private let packageDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

@Suite(.serialized, .enabled(if: Binaries.daemonTestsEnabled, "needs broker-server; set CI=true to make its absence fail"))
struct LibraryVersion2AgainstDaemon {
    @Test func aDroppedConnectionResumesWithTheHeldMessagesAndACountOfTheRest() throws {
        let server = try Server(["--capacity", "64"])
        let endpoint = Endpoint(host: "127.0.0.1", port: server.port)
        let publisher = try BrokerConnection(to: endpoint, version: .v2)
        func publish(_ range: ClosedRange<Int>) throws {
            for number in range { try publisher.publish(topic: "t", String(number)) }
        }
        let first = try BrokerConnection(to: endpoint, version: .v2)
        let head = try #require(try first.subscribe("t"))
        #expect(head.seq == 0)
        try publish(1...50)  // at most the ring's 64: nothing lags while connected
        let before = try events(until: 50, from: first)
        #expect(before == (1...50).map { .message(Message(topic: "t", payload: Array(String($0).utf8), seq: UInt64($0), epoch: String(decoding: head.epoch, as: UTF8.self))) })

        // The connection drops mid-stream; 250 more are published while it is gone.
        first.canceller.cancel()
        #expect(try first.nextEvent() == nil)
        let state = first.resumeState()
        #expect(state.subscriptions == [SubscriptionRecord(pattern: "t", position: StreamPosition(epoch: head.epoch, seq: 50))])
        try publish(51...300)

        let second = try BrokerConnection(to: endpoint, version: .v2)
        try second.resume(state)
        let after = try events(until: 300, from: second)
        // The ring holds the last 64 (237...300): those as messages, the 186 before them counted.
        let epoch = String(decoding: head.epoch, as: UTF8.self)
        #expect(after == [.lagged(topic: "t", count: 186)]
            + (237...300).map { .message(Message(topic: "t", payload: Array(String($0).utf8), seq: UInt64($0), epoch: epoch)) })
        server.stop()
    }

    @Test func aBrokerRestartGivesAPositionLostEvent() throws {
        let server = try Server()
        let connection = try BrokerConnection(to: Endpoint(host: "127.0.0.1", port: server.port), version: .v2)
        let head = try #require(try connection.subscribe("r"))
        let publisher = try BrokerConnection(to: Endpoint(host: "127.0.0.1", port: server.port), version: .v2)
        for text in ["a", "b", "c"] { try publisher.publish(topic: "r", text) }
        _ = try events(until: 3, from: connection)
        server.stop()
        // BYE shutting-down, then end of file.
        while let event = try? connection.nextEvent() {
            if case .bye = event { break }
        }
        let state = connection.resumeState()

        let restarted = try Server()
        let resumed = try BrokerConnection(to: Endpoint(host: "127.0.0.1", port: restarted.port), version: .v2)
        try resumed.resume(state)
        guard case let .positionLost(topic, previous, current)? = try resumed.nextEvent(until: .now.advanced(by: .seconds(20))) else {
            Issue.record("no position lost event")
            return
        }
        #expect(topic == "r")
        #expect(previous == StreamPosition(epoch: head.epoch, seq: 3))
        #expect(current.seq == 0 && current.epoch != head.epoch)
        let receipt = try BrokerConnection(to: Endpoint(host: "127.0.0.1", port: restarted.port), version: .v2)
            .publishBinary(topic: "r", payload: Array("new".utf8))
        #expect(receipt.position == StreamPosition(epoch: current.epoch, seq: 1))
        #expect(try resumed.nextEvent() == .message(Message(topic: "r", payload: Array("new".utf8), seq: 1,
                                                            epoch: String(decoding: current.epoch, as: UTF8.self))))
        restarted.stop()
    }

    @Test func aPatternReadsOnWhenItsTopicIsFreedAndMadeAgain() throws {
        let server = try Server(["--linger-ms", "0"])
        let endpoint = Endpoint(host: "127.0.0.1", port: server.port)
        let pattern = try BrokerConnection(to: endpoint, version: .v2)
        try pattern.subscribe("p.*")
        let publisher = try BrokerConnection(to: endpoint, version: .v2)
        var positions: [StreamPosition] = []
        for text in ["a", "b", "c"] {
            positions.append(try #require(try publisher.publishBinary(topic: "p.x", payload: Array(text.utf8)).position))
            #expect(try pattern.nextEvent() == .message(Message(topic: "p.x", payload: Array(text.utf8), seq: positions.last?.seq)))
            // Once the pattern has read it nothing keeps the stream, which the broker frees within
            // about a second (PROTOCOL.md): ask until STATS no longer knows the topic.
            let deadline = ContinuousClock.now.advanced(by: .seconds(10))
            while (try? publisher.stats(topic: "p.x")) != nil, ContinuousClock.now < deadline {}
        }
        #expect(positions.map(\.seq) == [1, 1, 1])
        #expect(Set(positions.map(\.epoch)).count == 3)
        server.stop()
    }

    @Test func binaryPublishRoundTripsEveryByteValue() throws {
        let server = try Server()
        let endpoint = Endpoint(host: "127.0.0.1", port: server.port)
        let payload = (0...255).map(UInt8.init) + [0x0D, 0x0A, 0x0A] + (0...255).reversed().map(UInt8.init)
        let modern = try BrokerConnection(to: endpoint, version: .v2)
        try modern.subscribe("bin")
        let old = try BrokerConnection(to: endpoint)
        try old.subscribe("bin")
        let publisher = try BrokerConnection(to: endpoint, version: .v2)
        let receipt = try publisher.publishBinary(topic: "bin", payload: payload)
        #expect(receipt.subscribers == 2)
        let position = try #require(receipt.position)
        #expect(position.seq == 1)
        #expect(try modern.nextEvent() == .message(Message(topic: "bin", payload: payload, seq: 1,
                                                           epoch: String(decoding: position.epoch, as: UTF8.self))))
        // A version 1 subscriber cannot be sent a payload with LF: it is counted in its place.
        #expect(try old.nextEvent() == .lagged(topic: "bin", count: 1))
        // Pipelined binary messages, and an empty one.
        var sent = 0
        try publisher.publishPipelined(topic: Array("bin".utf8), produce: { batch in
            batch.appendBinary(payload: sent == 0 ? [] : payload)
            sent += 1
            return sent < 3
        }, onReply: { _, reply in #expect(reply == .delivered(subscribers: 2)) })
        #expect(try modern.nextEvent() == .message(Message(topic: "bin", payload: [], seq: 2, epoch: String(decoding: position.epoch, as: UTF8.self))))
        #expect(try modern.nextEvent() == .message(Message(topic: "bin", payload: payload, seq: 3, epoch: String(decoding: position.epoch, as: UTF8.self))))
        #expect(try old.nextEvent() == .message(Message(topic: "bin", payload: [])))
        server.stop()
    }
}

@Suite(.serialized, .enabled(if: Binaries.daemonTestsEnabled, "needs broker-server; set CI=true to make its absence fail"))
struct CLIVersion2AgainstDaemon {
    @Test func subResumesAfterItsConnectionIsCutMidStream() throws {
        let server = try Server(["--capacity", "64"])
        let proxy = try TCPProxy(to: server.port)
        let sub = try subscriber(port: proxy.port, ["-v", "--seq", "t"])
        #expect(try runCLI(["pub", "t", "--port", String(server.port)], stdin: numbers(1...50)).status == 0)
        #expect(sub.stdout.wait { $0.last == "t 50 50" })

        // Cut the connection and keep the reconnect waiting while 250 more are published.
        proxy.hold()
        proxy.cut()
        #expect(sub.stderr.waitForLine(containing: "connection lost") != nil)
        #expect(try runCLI(["pub", "t", "--port", String(server.port)], stdin: numbers(51...300)).status == 0)
        proxy.release()

        #expect(sub.stdout.wait { $0.last == "t 300 300" })
        sub.signal(SIGINT)
        #expect(sub.waitForExit() == 0)
        #expect(sub.stdout.waitForEnd() == (Array(1...50) + Array(237...300)).map { "t \($0) \($0)" })
        let errors = sub.stderr.waitForEnd()
        #expect(errors.filter { $0.contains("subscribed to t ") }.count == 2)
        #expect(errors.contains("broker-cli: lagged on t: 186 messages missed"))
        #expect(errors.last == "broker-cli: received 114 messages, 186 missed (lagged)")
        server.stop()
    }

    @Test func subSaysPositionLostAfterABrokerRestart() throws {
        let server = try Server()
        let port = server.port
        let sub = try subscriber(port: port, ["-v", "--seq", "r.t"])
        #expect(try runCLI(["pub", "r.t", "before", "--port", String(port)]).status == 0)
        #expect(sub.stdout.wait { $0 == ["r.t 1 before"] })
        server.stop()
        #expect(sub.stderr.waitForLine(containing: "connection lost") != nil)
        let restarted = try Server(port: port)
        let lost = sub.stderr.waitForLine(containing: "position lost on r.t")
        #expect(lost?.hasPrefix("broker-cli: position lost on r.t: ") == true)
        #expect(lost?.hasSuffix(":0; what was published in between is unknown") == true)
        #expect(try runCLI(["pub", "r.t", "after", "--port", String(port)]).status == 0)
        #expect(sub.stdout.wait { $0 == ["r.t 1 before", "r.t 1 after"] })
        sub.signal(SIGINT)
        #expect(sub.waitForExit() == 0)
        restarted.stop()
    }

    @Test func subFailsOverToTheNextBrokerAndSaysThePositionIsNotInItsStream() throws {
        let first = try Server()
        let second = try Server()
        let list = "127.0.0.1:\(first.port),127.0.0.1:\(second.port)"
        let sub = try Child.cli(["sub", "-v", "--seq", "f.t", "--server", list])
        #expect(sub.stderr.waitForLine(containing: "subscribed to f.t on 127.0.0.1:\(first.port)") != nil)
        #expect(try runCLI(["pub", "f.t", "one", "--port", String(first.port)]).status == 0)
        #expect(sub.stdout.wait { $0 == ["f.t 1 one"] })
        first.stop()
        #expect(sub.stderr.waitForLine(containing: "connection lost") != nil)
        #expect(sub.stderr.waitForLine(containing: "subscribed to f.t on 127.0.0.1:\(second.port)") != nil)
        // The second broker's stream is another one: said, never passed off as a resume.
        #expect(sub.stderr.waitForLine(containing: "position lost on f.t") != nil)
        #expect(try runCLI(["pub", "f.t", "two", "--port", String(second.port)]).status == 0)
        #expect(sub.stdout.wait { $0 == ["f.t 1 one", "f.t 1 two"] })
        sub.signal(SIGINT)
        #expect(sub.waitForExit() == 0)
        second.stop()
    }

    @Test func aListWhoseFirstBrokerIsDownUsesTheNext() throws {
        let server = try Server()
        let down = try closedPort()
        let ping = try runCLI(["ping", "--server", "127.0.0.1:\(down),127.0.0.1:\(server.port)"])
        #expect(ping.status == 0)
        #expect(ping.out.first?.hasPrefix("PONG from 127.0.0.1:\(server.port)") == true, "\(ping)")
        let none = try runCLI(["ping", "--server", "127.0.0.1:\(down)"])
        #expect(none.status == 1)
        // The library: the first broker that can be reached.
        let connection = try BrokerConnection.connect(toFirstOf: [Endpoint(host: "127.0.0.1", port: down),
                                                                 Endpoint(host: "127.0.0.1", port: server.port)])
        #expect(connection.endpoint.port == server.port)
        #expect(throws: BrokerClientError.self) {
            try BrokerConnection.connect(toFirstOf: [Endpoint(host: "127.0.0.1", port: down)])
        }
        server.stop()
    }

    @Test func jsonCarriesThePositionAndBase64ForPayloadsThatAreNotUTF8() throws {
        let server = try Server()
        let port = String(server.port)
        let sub = try subscriber(port: server.port, ["--json", "--count", "3", "j"])
        let binary: [UInt8] = [0xFF, 0x00, 0x0A, 0x41, 0xC3]
        let pub = try runCLI(["pub", "-v", "j", "--binary", "--port", port], stdin: binary)
        #expect(pub.status == 0)
        #expect(pub.out.first?.hasPrefix("published to 1 subscriber at ") == true)
        #expect(try runCLI(["pub", "j", "h\u{E9}llo \"w\"", "--port", port]).status == 0)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("broker-cli-\(getpid())-payload")
        try Data("line one\nline two\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        #expect(try runCLI(["pub", "j", "--file", file.path, "--port", port]).status == 0)
        #expect(sub.waitForExit() == 0)
        let objects = sub.stdout.waitForEnd().compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(objects.count == 3)
        guard objects.count == 3 else { return }
        let epoch = objects[0]["epoch"] as? String
        #expect(epoch.map { !$0.isEmpty } == true)
        #expect(pub.out.first == "published to 1 subscriber at \(epoch ?? ""):1")
        #expect(objects.map { $0["seq"] as? String } == ["1", "2", "3"])
        #expect(objects.allSatisfy { $0["epoch"] as? String == epoch && $0["topic"] as? String == "j" })
        #expect(objects[0]["base64"] as? Bool == true)
        #expect((objects[0]["payload"] as? String).flatMap { Data(base64Encoded: $0) }.map(Array.init) == binary)
        #expect(objects[1]["base64"] == nil)
        #expect(objects[1]["payload"] as? String == "h\u{E9}llo \"w\"")
        #expect(objects[2]["payload"] as? String == "line one\nline two\n")
        server.stop()
    }

    @Test func subStartsFromAPositionOrTheLastMessagesAndSharesAQueueGroup() throws {
        let server = try Server()
        let port = String(server.port)
        #expect(try runCLI(["pub", "h", "--port", port], stdin: numbers(1...10)).status == 0)
        let head = try #require(try BrokerConnection(to: Endpoint(host: "127.0.0.1", port: server.port), version: .v2).subscribe("h"))
        #expect(head.seq == 10)
        let last = try runCLI(["sub", "h", "--last", "3", "--count", "3", "--port", port])
        #expect(last.status == 0 && last.out == ["8", "9", "10"])
        let epoch = String(decoding: head.epoch, as: UTF8.self)
        let from = try runCLI(["sub", "h", "--from", "\(epoch):4", "--seq", "--count", "6", "--port", port])
        #expect(from.status == 0 && from.out == (5...10).map { "\($0) \($0)" })
        // A position of another stream: said on stderr, then live messages.
        let elsewhere = try Child.cli(["sub", "h", "--from", "zz9:4", "--count", "1", "--port", port])
        let lost = elsewhere.stderr.waitForLine(containing: "position lost")
        #expect(lost == "broker-cli: position lost on h: zz9:4 is not in the broker's stream, which is at \(epoch):10; "
            + "what was published in between is unknown")
        #expect(try runCLI(["pub", "h", "live", "--port", port]).status == 0)
        #expect(elsewhere.waitForExit() == 0)
        #expect(elsewhere.stdout.waitForEnd() == ["live"])

        let one = try subscriber(port: server.port, ["--group", "workers", "jobs"])
        let two = try subscriber(port: server.port, ["--group", "workers", "jobs"])
        #expect(try runCLI(["pub", "jobs", "--port", port], stdin: numbers(1...100)).status == 0)
        // (A collector's condition gets its own lines: asking it for them again would wait on its own lock.)
        #expect(one.stdout.wait { $0.count + two.stdout.lines.count == 100 })
        #expect(try runCLI(["pub", "jobs", "END", "--port", port]).status == 0)
        #expect(one.stdout.wait { ($0 + two.stdout.lines).contains("END") })
        one.signal(SIGINT)
        two.signal(SIGINT)
        #expect(one.waitForExit() == 0 && two.waitForExit() == 0)
        let received = one.stdout.waitForEnd() + two.stdout.waitForEnd()
        #expect(received.sorted() == (Array(1...100).map(String.init) + ["END"]).sorted())
        server.stop()
    }

    /// `seq 1 200000 | broker-cli pub t` into a running `broker-cli sub t`, with the shipped
    /// configuration: whole, in order, no LAGGED.
    @Test func aBurstOf200000LinesArrivesWholeAndInOrder() throws {
        let server = try Server(["--config", packageDirectory + "/conf/broker.conf"])
        let sub = try subscriber(port: server.port, ["t"])
        let start = ContinuousClock.now
        let pub = try runCLI(["pub", "t", "--port", String(server.port)], stdin: numbers(1...200_000))
        #expect(pub.status == 0)
        #expect(sub.stdout.wait(timeout: .seconds(60)) { $0.count >= 200_000 })
        let elapsed = start.duration(to: .now)
        sub.signal(SIGINT)
        #expect(sub.waitForExit() == 0)
        let lines = sub.stdout.waitForEnd()
        #expect(lines.count == 200_000)
        #expect(lines == (1...200_000).map(String.init))
        #expect(!sub.stderr.waitForEnd().contains { $0.contains("lagged") })
        #expect(elapsed < .seconds(60))
        server.stop()
    }

    @Test func benchInVersion2AccountsForEveryMessage() throws {
        let server = try Server(["--capacity", "131072"])
        let json = try runCLI(["bench", "--protocol", "2", "--subs", "2", "--msgs", "20000", "--size", "32", "--topic", "b2", "--json",
                               "--port", String(server.port)], timeout: .seconds(120))
        #expect(json.status == 0)
        let report = try #require(json.out.first.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
        #expect(report["protocol"] as? Int == 2)
        #expect(report["complete"] as? Bool == true)
        let text = try runCLI(["bench", "--protocol", "2", "--msgs", "1000", "--topic", "b3", "--port", String(server.port)])
        #expect(text.status == 0)
        #expect(text.out.first?.hasSuffix("at 127.0.0.1:\(server.port) (subscribers in protocol 2)") == true)
        #expect(text.out.contains { $0.hasPrefix("delivered: 1000 received, 0 lagged") })
        server.stop()
    }
}
