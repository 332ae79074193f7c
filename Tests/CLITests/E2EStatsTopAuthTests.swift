// stats, top and --token end to end against the real broker-server: figures checked against a STATS sent by hand.
@testable import BrokerClient
@testable import broker_cli
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The `key  value` rows of `stats` as a dictionary (the human unit in parentheses dropped).
private func tableValues(_ lines: [String]) -> [String: String] {
    var values: [String: String] = [:]
    for line in lines {
        let words = line.split(separator: " ")
        if words.count >= 2 { values[String(words[0])] = String(words[1]) }
    }
    return values
}

/// `ip:port` of the connection's own end, as the broker sees it.
private func localAddress(_ connection: BrokerConnection) throws -> String {
    var address = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(connection.socket.fd, $0, &length) == 0 }
    }
    guard ok else { throw E2EFailure("getsockname failed") }
    return "127.0.0.1:\(UInt16(bigEndian: address.sin_port))"
}

/// Publishes `count` messages `<n><padding>` (n from 0) to `topic`, pipelined.
private func publishNumbered(_ publisher: BrokerConnection, _ topic: String, _ count: Int, size: Int) throws {
    let padding = Array(String(repeating: "p", count: size).utf8)
    var next = 0
    try publisher.publishPipelined(topic: Array(topic.utf8), produce: { batch in
        while next < count && !batch.isFull {
            batch.append(payload: Array("\(next)".utf8) + padding)
            next += 1
        }
        return next < count
    }, onReply: { _, _ in })
}

/// A subscriber to `topics` that reads nothing, and a publisher that filled its socket and the
/// broker's queue for it through `topics[0]` until the broker holds more unread for it than the
/// capacity (16): from then on every message to it on another topic lags until it reads again.
private func stalledSubscriber(_ endpoint: Endpoint, topics: [String]) throws -> (BrokerConnection, BrokerConnection) {
    let stalled = try BrokerConnection(to: endpoint)
    for topic in topics { try stalled.subscribe(topic) }
    let publisher = try BrokerConnection(to: endpoint)
    // First its socket and the broker's queue for it fill up. Only a full socket stops the broker
    // taking the first topic from the ring: publish more until `STATS` shows the stalled
    // subscription overrun (more unread than the capacity), bounded by a guard.
    try publishNumbered(publisher, topics[0], 20000, size: 1000)
    var overrun = false
    for _ in 0..<200 where !overrun {
        overrun = (try publisher.stats(topic: topics[0]).counter("max_lag") ?? 0) > 16
        if !overrun { try publishNumbered(publisher, topics[0], 2000, size: 1000) }
    }
    #expect(overrun, "the stalled subscriber's socket never filled")
    return (stalled, publisher)
}

@Suite(.serialized, .enabled(if: Binaries.daemonTestsEnabled, "needs broker-server (daemon branch); set CI=true to make its absence fail"))
struct StatsTopAndTokenAgainstDaemon {
    @Test func statsPlainAndJSONAgreeWithAStatsSentByHandAfterAKnownLoad() throws {
        let server = try Server()
        let endpoint = Endpoint(host: "127.0.0.1", port: server.port)
        let subscriber = try BrokerConnection(to: endpoint)
        try subscriber.subscribe("load")
        let publisher = try BrokerConnection(to: endpoint)
        for index in 0..<25 { #expect(try publisher.publish(topic: "load", "m\(index)") == 1) }
        var received = 0
        while received < 25, case .message? = try subscriber.nextEvent() { received += 1 }
        try subscriber.ping()  // every MSG it read is now counted in delivered_total

        let plain = try runCLI(["stats"] + server.portArguments)
        #expect(plain.status == 0 && plain.err.isEmpty)
        let table = tableValues(plain.out)
        let json = try runCLI(["stats", "--json"] + server.portArguments)
        #expect(json.status == 0 && json.out.count == 1)
        let object = try #require(json.out.first.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
        let byHand = try publisher.stats()

        #expect(byHand.counter("published_total") == 25)
        #expect(byHand.counter("delivered_total") == 25)
        #expect(plain.out.map { $0.split(separator: " ").first.map(String.init) ?? "" } == byHand.fields.map(\.key))
        for key in ["published_total", "delivered_total", "topics", "subscriptions", "lagged_events_total", "lagged_messages_total"] {
            #expect(table[key] == byHand[key], "\(key)")
            #expect((object[key] as? Int).map(String.init) == byHand[key], "\(key)")
        }
        #expect(object["version"] as? String == byHand["version"])
        #expect(table["version"] == byHand["version"])
        #expect(plain.out.first { $0.hasPrefix("bytes_in_total ") }?.hasSuffix(")") == true)
        server.stop()
    }

    @Test func statsOfATopicAndOfNoSuchTopic() throws {
        let server = try Server()
        let endpoint = Endpoint(host: "127.0.0.1", port: server.port)
        let subscriber = try BrokerConnection(to: endpoint)
        try subscriber.subscribe("t.x")
        let publisher = try BrokerConnection(to: endpoint)
        for _ in 0..<3 { try publisher.publish(topic: "t.x", "m") }

        let plain = try runCLI(["stats", "t.x"] + server.portArguments)
        #expect(plain.status == 0)
        let table = tableValues(plain.out)
        #expect(table["topic"] == "t.x" && table["subscribers"] == "1" && table["published_total"] == "3")
        let json = try runCLI(["stats", "t.x", "--json"] + server.portArguments)
        let object = try #require(json.out.first.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
        #expect(object["topic"] as? String == "t.x")
        #expect(object["subscribers"] as? Int == 1)
        #expect(object["published_total"] as? Int == 3)

        let missing = try runCLI(["stats", "no.such"] + server.portArguments)
        #expect(missing.status == 1)
        #expect(missing.out.isEmpty)
        #expect(missing.err == ["broker-cli: no such topic: no.such"])
        server.stop()
    }

    @Test func statsWatchPrintsAHeaderAndOneLinePerRefresh() throws {
        let server = try Server()
        let watch = try runCLI(["stats", "--watch", "--count", "2", "--interval", "0.2"] + server.portArguments)
        #expect(watch.status == 0)
        #expect(watch.err.isEmpty)
        #expect(watch.out.count == 3)
        #expect(watch.out.first.map { $0 + "\n" } == WatchLines.header)
        for row in watch.out.dropFirst() {
            // conns topics subs published/s delivered/s lagged/s lagged_msgs/s, then in/s and out/s as "<n> <unit>/s".
            let cells = row.split(separator: " ")
            #expect(cells.count == 11, "\(row)")
            #expect(cells.first == "1")
        }
        server.stop()
    }

    @Test func topShowsTheStalledSubscriberWithWhatItMissed() throws {
        let server = try Server(["--capacity", "16"])
        let endpoint = Endpoint(host: "127.0.0.1", port: server.port)
        // It subscribes and then reads nothing.
        let (stalled, publisher) = try stalledSubscriber(endpoint, topics: ["fill", "flood"])
        let address = try localAddress(stalled)
        func publish(_ topic: String, _ count: Int, size: Int) throws {
            try publishNumbered(publisher, topic, count, size: size)
        }

        // top runs until its table shows every report (a guard ends the wait); then SIGINT ends it.
        let top = try Child.cli(["top", "--count", "1000", "--interval", "0.1"] + server.portArguments)
        #expect(top.stderr.waitForLine(containing: "watching $SYS.lagged") != nil)
        // `flood` runs past it while it is stalled; the broker reports that lag, on `$SYS.lagged`
        // too, when the subscriber reads again, so every report on `flood` reaches top.
        let total = 200
        try publish("flood", total, size: 0)
        var missed: UInt64 = 0
        readLoop: while true {
            switch try stalled.nextEvent() {
            case let .message(message)?:
                if message.topic == "flood" && message.text == String(total - 1) { break readLoop }
            case let .lagged(topic, count)?:
                if topic == "flood" { missed += count }
            case .bye?, nil:
                throw E2EFailure("the stalled subscriber lost its connection")
            case .positionLost?:
                throw E2EFailure("a version 1 connection lost a position it never had")
            }
        }
        #expect(missed > 0)

        /// The cells of the newest table's row for the stalled subscriber on `flood`, if any.
        func floodRow(_ lines: [String]) -> [String]? {
            guard let header = lines.lastIndex(where: { $0.hasPrefix("CLIENT ") }) else { return nil }
            let row = lines[header...].first { $0.contains(" \(address) ") && $0.contains(" flood ") }
            return row.map { $0.split(separator: " ").map(String.init) }
        }
        let expected = String(missed)
        #expect(top.stdout.wait { floodRow($0)?[4] == expected }, "top never showed \(expected) missed: \(top.stdout.lines.suffix(8))")
        top.signal(SIGINT)
        #expect(top.waitForExit() == 0)
        let lines = top.stdout.waitForEnd()
        #expect(lines.filter { $0.hasPrefix("CLIENT ") }.count >= 1)
        let cells = try #require(floodRow(lines))
        #expect(cells[1] == address && cells[2] == "flood")
        #expect(lines.contains { $0.hasPrefix("lagged events ") && !$0.hasPrefix("lagged events 0 ") })
        server.stop()
    }

    @Test func topWithHTTPShowsPerConnectionAndTopicWhatIsBehindNowAndWhatWasMissed() throws {
        let server = try Server(["--capacity", "16", "--http-port", String(try freeLoopbackPort())])
        guard let httpLine = server.child.stdout.waitForLine(containing: "http listening on "),
              let colon = httpLine.lastIndex(of: ":") else { throw E2EFailure("no 'http listening on' line") }
        let http = "127.0.0.1:" + httpLine[httpLine.index(after: colon)...]
        let endpoint = Endpoint(host: "127.0.0.1", port: server.port)
        let (stalled, publisher) = try stalledSubscriber(endpoint, topics: ["fill", "flood"])
        let address = try localAddress(stalled)
        // More than any socket buffer can still take (the kernel may grow them after the
        // fill): `flood` is certainly left behind, and overrun, while the subscriber reads nothing.
        try publishNumbered(publisher, "flood", 10_000, size: 1000)
        // While it reads nothing, it is behind on both topics: top says so.
        let during = try runCLI(["top", "--http", http, "--count", "1"] + server.portArguments)
        #expect(during.status == 0, "\(during.err)")
        let behindRows = during.out.filter { $0.contains(" \(address) ") }
        #expect(behindRows.contains { $0.contains(" tcp ") && $0.contains(" flood ") }, "\(during.out)")
        // It reads everything, counting what it missed on each topic, up to a marker on each.
        _ = try publisher.publish(topic: "fill", "end")
        _ = try publisher.publish(topic: "flood", "end")
        var missed: [String: UInt64] = [:]
        var ended: Set<String> = []
        while ended.count < 2 {
            switch try stalled.nextEvent() {
            case let .message(message)?:
                if message.text == "end" { ended.insert(message.topic) }
            case let .lagged(topic, count)?:
                missed[topic, default: 0] += count
            case .bye?, nil, .positionLost?:
                throw E2EFailure("the stalled subscriber lost its connection")
            }
        }
        #expect((missed["flood"] ?? 0) > 0)
        // Now nothing is behind, and top shows exactly what it was told it missed.
        let after = try runCLI(["top", "--http", http, "--count", "1", "--limit", "5"] + server.portArguments)
        #expect(after.status == 0, "\(after.err)")
        #expect(after.out.contains { $0.hasPrefix("most behind now (http://\(http)/api/v1/connections):") }, "\(after.out)")
        for topic in ["fill", "flood"] {
            let row = after.out.first { $0.contains(" \(address) ") && $0.contains(" \(topic) ") }
            let cells = try #require(row, "no row for \(topic): \(after.out)").split(separator: " ").map(String.init)
            #expect(cells == [cells[0], address, "tcp", topic, "0", String(missed[topic] ?? 0)], "\(after.out)")
        }
        #expect(try runCLI(["top", "--http", "127.0.0.1:1", "--count", "1"] + server.portArguments).status == 1)
        server.stop()
    }

    @Test func tokenFromFlagOrEnvironmentIsSentAndAWrongOneFails() throws {
        let server = try Server(["--auth-token", "s3cret"])
        let sub = try Child.cli(["sub", "secure", "--count", "1", "--token", "s3cret"] + server.portArguments)
        #expect(sub.stderr.waitForLine(containing: "subscribed to ") != nil)

        let right = try runCLI(["pub", "-v", "secure", "hello", "--token", "s3cret"] + server.portArguments)
        #expect(right.status == 0)
        #expect(right.out == ["published to 1 subscriber"])
        #expect(sub.waitForExit() == 0)
        #expect(sub.stdout.waitForEnd() == ["hello"])

        let wrong = try runCLI(["pub", "secure", "x", "--token", "wrong"] + server.portArguments)
        #expect(wrong.status == 1)
        #expect(wrong.err == ["broker-cli: authentication failed"])
        let flagWins = try runCLI(["pub", "secure", "x", "--token", "wrong"] + server.portArguments, environment: ["BROKER_TOKEN": "s3cret"])
        #expect(flagWins.status == 1)

        let fromEnvironment = try runCLI(["pub", "secure", "x"] + server.portArguments, environment: ["BROKER_TOKEN": "s3cret"])
        #expect(fromEnvironment.status == 0 && fromEnvironment.err.isEmpty)
        let stats = try runCLI(["stats", "--json"] + server.portArguments, environment: ["BROKER_TOKEN": "s3cret"])
        #expect(stats.status == 0 && stats.out.first?.contains(#""published_total": 2"#) == true)

        let none = try runCLI(["pub", "secure", "x"] + server.portArguments)
        #expect(none.status == 1)
        #expect(none.err == ["broker-cli: authentication required: give --token or set BROKER_TOKEN"])
        server.stop()
    }
}

@Suite struct StatsAndTopWithoutABroker {
    @Test func anUnreachableBrokerIsOneLineAndStatus1() throws {
        let port = try closedPort()
        for arguments in [["stats"], ["stats", "--watch"], ["top"]] {
            let result = try runCLI(arguments + ["--port", String(port)])
            #expect(result.status == 1)
            #expect(result.err == ["broker-cli: cannot connect to 127.0.0.1:\(port): Connection refused"])
        }
    }
}
