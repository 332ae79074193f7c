// SIGHUP: every key that reloads live takes effect; a bad file is rejected and changes nothing.
import Broker
import Foundation
import Glibc
import Testing

@Suite struct ReloadTests {
    @Test func maxLineBytesReloadsLive() throws {
        let (broker, file) = try BrokerProcess.start(config: baseConfig + ["max_line_bytes 65536"])
        let long = "PING " + String(repeating: "x", count: 95)
        #expect(try broker.connect().request(long) == "PONG " + String(repeating: "x", count: 95))
        try file.write(baseConfig + ["max_line_bytes 64"])
        #expect(try broker.reload().contains("configuration reloaded (changed: max_line_bytes)"))
        let client = try broker.connect()
        #expect(try client.request(long).hasPrefix("ERR line-too-long "))
        #expect(try client.request("PING " + String(repeating: "y", count: 59)) == "PONG " + String(repeating: "y", count: 59))
    }

    @Test func maxSubscriptionsPerConnectionReloadsLive() throws {
        let (broker, file) = try BrokerProcess.start(config: baseConfig + ["max_subscriptions_per_connection 10000"])
        try file.write(baseConfig + ["max_subscriptions_per_connection 2"])
        #expect(try broker.reload().contains("configuration reloaded (changed: max_subscriptions_per_connection)"))
        let client = try broker.connect()
        #expect(try client.request("SUB a") == "OK")
        #expect(try client.request("SUB b") == "OK")
        #expect(try client.request("SUB c").hasPrefix("ERR too-many-subscriptions "))
    }

    @Test func maxTopicsReloadsLive() throws {
        let (broker, file) = try BrokerProcess.start(config: baseConfig + ["max_topics 1000000"])
        let early = try broker.connect()
        #expect(try early.request("SUB a") == "OK")
        try file.write(baseConfig + ["max_topics 2"])
        #expect(try broker.reload().contains("configuration reloaded (changed: max_topics)"))
        let client = try broker.connect()
        #expect(try client.request("SUB b") == "OK")
        #expect(try client.request("SUB c").hasPrefix("ERR too-many-topics "))
    }

    @Test func maxConnectionsReloadsLive() throws {
        let (broker, file) = try BrokerProcess.start(config: baseConfig + ["max_connections 0"])
        try file.write(baseConfig + ["max_connections 2"])
        #expect(try broker.reload().contains("configuration reloaded (changed: max_connections)"))
        let first = try broker.connect()
        let second = try broker.connect()
        try first.barrier()
        try second.barrier()
        let third = try broker.connect()
        try third.expectLine(startingWith: "BYE too-many-connections ")
        try third.expectEOF()
    }

    @Test func idleTimeoutReloadsLive() throws {
        let (broker, file) = try BrokerProcess.start(config: baseConfig + ["idle_timeout_ms 600000"])
        try file.write(baseConfig + ["idle_timeout_ms 200"])
        #expect(try broker.reload().contains("configuration reloaded (changed: idle_timeout_ms)"))
        let slowloris = try broker.connect()
        try slowloris.sendRaw("PUB t never-ends")
        try slowloris.expectLine(startingWith: "BYE idle-timeout ")
        try slowloris.expectEOF()
    }

    @Test func logLevelReloadsLive() throws {
        let (broker, file) = try BrokerProcess.start(config: baseConfig + ["log_level warn"])
        try broker.connect().barrier()  // "connection opened" is info: not written at warn
        try file.write(baseConfig + ["log_level info"])
        let before = broker.stderr.lines.count
        #expect(try broker.reload().contains("configuration reloaded (changed: log_level)"))
        #expect(!broker.stderr.lines[..<before].contains { $0.contains("connection opened") })
        try broker.connect().barrier()
        try broker.stderr.waitForLine(containing: "connection opened", from: before)
    }

    @Test func tcpKeepaliveReloadsLiveForNewConnections() throws {
        let (broker, file) = try BrokerProcess.start(config: baseConfig + ["tcp_keepalive_s 0"])
        let before = try broker.connect()
        try before.barrier()
        try file.write(baseConfig + ["tcp_keepalive_s 7"])
        #expect(try broker.reload().contains("configuration reloaded (changed: tcp_keepalive_s)"))
        let after = try broker.connect()
        try after.barrier()
        // The broker's side of each connection, from /proc/net/tcp: timer 2 is keepalive.
        let old = try brokerSideTimer(brokerPort: broker.port, clientPort: before.localPort)
        let new = try brokerSideTimer(brokerPort: broker.port, clientPort: after.localPort)
        #expect(old.kind == 0, "keepalive timer on a connection accepted with tcp_keepalive_s 0: \(old)")
        #expect(new.kind == 2, "no keepalive timer on a connection accepted with tcp_keepalive_s 7: \(new)")
        #expect(new.ticks > 0 && new.ticks <= 700, "keepalive due in \(new.ticks) ticks, not within 7 s")
    }

    @Test func shutdownGraceReloadsLive() throws {
        let (broker, file) = try BrokerProcess.start(config: baseConfig + ["shutdown_grace_ms 600000"])
        try file.write(baseConfig + ["shutdown_grace_ms 100"])
        #expect(try broker.reload().contains("configuration reloaded (changed: shutdown_grace_ms)"))
        // A client that never reads: its replies (and then its BYE) cannot be written,
        // so only the grace period ends the shutdown.
        let stuck = try broker.connect(receiveBuffer: 4096)
        let pings = Array(String(repeating: "PING " + String(repeating: "p", count: 200) + "\n", count: 100_000).utf8)
        let sent = try stuck.sendWithoutBlocking(pings, from: 0)
        #expect(sent < pings.count)
        broker.signal(SIGTERM)
        let status = try broker.waitForExit()  // the 600 s grace would outlast the 30 s guard
        #expect(status == 0, "exit status \(status); stderr ends \(broker.stderr.lines.suffix(3))")
    }

    @Test func capacityReloadsLiveForTopicsCreatedAfterwards() throws {
        let (broker, file) = try BrokerProcess.start(config: baseConfig + ["capacity 64"])
        let oldSubscriber = try broker.connect(receiveBuffer: 4096)
        #expect(try oldSubscriber.request("SUB old") == "OK")
        try file.write(baseConfig + ["capacity 200"])  // rounds up to 256
        #expect(try broker.reload().contains("configuration reloaded (changed: capacity)"))
        let newSubscriber = try broker.connect(receiveBuffer: 4096)
        #expect(try newSubscriber.request("SUB new") == "OK")
        // 5,000 messages of 2 KB per topic: far more than a stalled socket holds.
        let publisher = try broker.connect()
        let padding = String(repeating: "p", count: 2000)
        let published = 5000
        for start in stride(from: 0, to: published, by: 50) {
            try publisher.sendRaw((start..<start + 50).map { "PUB old \($0) \(padding)\nPUB new \($0) \(padding)\n" }.joined())
            for _ in 0..<100 { try publisher.expectLine("OK 1") }
        }
        // After the last LAGGED comes the whole ring, and its size is the capacity the topic was created with.
        #expect(try messagesAfterLastLag(oldSubscriber, topic: "old", last: published - 1) == 64)
        #expect(try messagesAfterLastLag(newSubscriber, topic: "new", last: published - 1) == 256)
    }

    @Test func anInvalidFileOnSighupIsRejectedAndTheOldConfigurationStays() throws {
        let (broker, file) = try BrokerProcess.start(config: baseConfig + ["max_subscriptions_per_connection 2"])
        try file.write(baseConfig + ["max_subscriptions_per_connection abc"])
        let line = try broker.reload()
        #expect(line.contains("reload rejected: \(file.path):3: max_subscriptions_per_connection: "), "\(line)")
        let client = try broker.connect()
        #expect(try client.request("SUB a") == "OK")
        #expect(try client.request("SUB b") == "OK")
        #expect(try client.request("SUB c").hasPrefix("ERR too-many-subscriptions "))
        // The daemon goes on, and a good file is taken again.
        try file.write(baseConfig + ["max_subscriptions_per_connection 3"])
        #expect(try broker.reload().contains("configuration reloaded (changed: max_subscriptions_per_connection)"))
        #expect(try broker.connect().request("PING") == "PONG")
    }
}

/// Reads `MSG <topic> <seq> ...` and `LAGGED` frames until `last` arrives; returns the
/// number of MSGs after the last LAGGED (and checks the stream accounts for every message).
func messagesAfterLastLag(_ client: TestClient, topic: String, last: Int) throws -> Int {
    var next = 0
    var since = 0
    var sawLag = false
    while next <= last {
        let line = try client.line()
        let parts = line.split(separator: " ", maxSplits: 3)
        if parts.first == "LAGGED", parts.count == 3, parts[1] == topic, let count = Int(parts[2]) {
            next += count
            since = 0
            sawLag = true
        } else if parts.first == "MSG", parts.count >= 3, parts[1] == topic, let value = Int(parts[2]), value == next {
            next += 1
            since += 1
        } else {
            throw ClientError("unexpected '\(line.prefix(80))' while expecting \(next) on \(topic)")
        }
    }
    #expect(next == last + 1)
    #expect(sawLag, "\(topic): the subscriber never lagged")
    return since
}

/// The kernel timer on the broker's side of a connection: (timer kind, ticks until it fires).
func brokerSideTimer(brokerPort: Int, clientPort: Int) throws -> (kind: Int, ticks: Int) {
    let local = String(format: "0100007F:%04X", brokerPort)
    let remote = String(format: "0100007F:%04X", clientPort)
    // The kernel writes the table in pieces; rows can be skipped while other tests open and
    // close sockets, so a missing row is looked for again (a bounded number of times).
    for _ in 0..<50 {
        let table = try readWholeFile("/proc/net/tcp")
        for row in table.split(separator: "\n").dropFirst() {
            let fields = row.split(separator: " ")
            guard fields.count > 5, fields[1] == local, fields[2] == remote else { continue }
            let timer = fields[5].split(separator: ":")
            return (Int(timer[0], radix: 16) ?? -1, Int(timer[1], radix: 16) ?? -1)
        }
    }
    throw ClientError("no /proc/net/tcp row for \(local) -> \(remote)")
}

/// Reads a file to its end with read(2) (a /proc file reports size 0, so it is read until EOF).
func readWholeFile(_ path: String) throws -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw ClientError("open \(path): errno \(errno)") }
    defer { Glibc.close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        if count < 0 { throw ClientError("read \(path): errno \(errno)") }
        if count == 0 { break }
        bytes.append(contentsOf: chunk[0..<count])
    }
    return String(decoding: bytes, as: UTF8.self)
}
