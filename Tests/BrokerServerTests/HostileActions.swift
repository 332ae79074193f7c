// The hostile clients, each an action against a running broker-server that checks what the broker must do.
import Foundation
import Glibc
import Testing

/// Every hostile action of the set, run against a `broker-server` child started
/// by ``Hostile/startBroker()``. Each one checks its own expectations; the caller
/// runs it beside a ``CalmPair`` and watches the broker's descriptors.
enum Hostile {
    /// The idle timeout the hostile brokers run with (the slowloris waits for it).
    static let idleTimeoutMs = 300
    /// Ring capacity of the hostile brokers (the memory bound is stated in it).
    static let capacity = 1024

    /// Starts `broker-server` on a free port with the settings the hostile set relies on,
    /// and waits until its start-up is complete: a SIGHUP is answered with a reload log
    /// line only once the signal thread (and its signalfd) runs, so the descriptor
    /// count read afterwards is the settled one.
    static func startBroker() throws -> BrokerProcess {
        let broker = try BrokerProcess.start(["--port", "0", "--threads", "2", "--capacity", "\(capacity)",
                                              "--idle-timeout-ms", "\(idleTimeoutMs)", "--log-level", "info",
                                              "--linger-ms", "0"])
        try broker.reload()
        return broker
    }

    /// Runs every action once, each beside its own calm pair.
    static func runAll(_ broker: BrokerProcess) throws {
        try besideCalmPair(broker.port, "slowloris") { try slowloris(broker) }
        try besideCalmPair(broker.port, "nonreader") { try nonReader(broker) }
        try besideCalmPair(broker.port, "hoarder") { try replyHoarder(broker) }
        try besideCalmPair(broker.port, "churn") { try connectionChurn(broker) }
        try besideCalmPair(broker.port, "halfwrite") { try halfClosedWriter(broker) }
        try besideCalmPair(broker.port, "halfread") { try halfClosedReader(broker) }
        try besideCalmPair(broker.port, "reset") { try resetInTheMiddleOfAFrame(broker, calmTopic: "calm.reset") }
        try besideCalmPair(broker.port, "huge") { try hugeLines(broker) }
        try besideCalmPair(broker.port, "random") { try randomBytes(broker) }
    }

    /// The log line the broker writes when it closes the connection from `port`.
    static func waitForClose(_ broker: BrokerProcess, port: Int, from: Int) throws {
        try broker.stderr.waitForLine(containing: "peer=127.0.0.1:\(port) connection closed", from: from)
    }

    // MARK: Slowloris

    /// A partial line that never ends: `BYE idle-timeout`, end of file, and a log line
    /// saying the line was held at least `idle_timeout_ms`.
    static func slowloris(_ broker: BrokerProcess) throws {
        let from = broker.stderr.lines.count
        let client = try broker.connect()
        let port = client.localPort
        try client.sendRaw("PUB calm.slowloris never-ends")
        try client.expectLine(startingWith: "BYE idle-timeout ")
        try client.expectEOF()
        let index = try broker.stderr.waitForLine(containing: "peer=127.0.0.1:\(port) idle timeout", from: from)
        let line = broker.stderr.lines[index]
        let held = line.split(separator: " ").firstIndex(of: "for").flatMap { Int(line.split(separator: " ")[$0 + 1]) }
        #expect((held ?? 0) >= idleTimeoutMs, "log line: \(line)")
        try waitForClose(broker, port: port, from: from)
    }

    // MARK: A subscriber that never reads

    /// A subscriber of a hot topic never reads while 100,000 × 1 KiB messages are
    /// published: the broker's memory stays bounded, a fast subscriber of the same
    /// topic gets every message, and the stalled one, once it reads, gets every
    /// message or a LAGGED count for it.
    static func nonReader(_ broker: BrokerProcess, messages: Int = 100_000) throws {
        let topic = "hot.feed"
        let stalled = try broker.connect(receiveBuffer: 4096)
        #expect(try stalled.request("SUB \(topic)") == "OK")
        let fast = try broker.connect()
        #expect(try fast.request("SUB \(topic)") == "OK")
        let publisher = try broker.connect()
        let residentBefore = try residentKiB(broker.pid)

        let header = Array("PUB \(topic) ".utf8)
        let padding = [UInt8](repeating: 0x78, count: 1024 - 8)  // payload: 8 digits + padding = 1 KiB
        let chunk = 256  // well below the ring: the fast subscriber, drained per chunk, never lags
        var sequence = 0
        while sequence < messages {
            let first = sequence
            var bytes: [UInt8] = []
            bytes.reserveCapacity(chunk * (header.count + 1025))
            while sequence < min(messages, first + chunk) {
                bytes += header
                bytes += Array(eightDigits(sequence).utf8)
                bytes += padding
                bytes.append(0x0A)
                sequence += 1
            }
            try publisher.sendBytes(bytes)
            for _ in first..<sequence {
                let reply = try publisher.line()
                if reply != "OK 2" { Issue.record("PUB reply '\(reply)'"); return }
            }
            for expected in first..<sequence {
                let line = try fast.line()
                if !line.hasPrefix("MSG \(topic) \(eightDigits(expected))x") || line.utf8.count != 4 + topic.utf8.count + 1 + 1024 {
                    Issue.record("fast subscriber got '\(line.prefix(40))...' where \(expected) was due")
                    return
                }
            }
        }
        let residentAfter = try residentKiB(broker.pid)
        let boundKiB = 2 * capacity * 1 + 16 * 1024
        #expect(underAddressSanitizer || residentAfter - residentBefore < boundKiB,
                "broker RSS grew from \(residentBefore) KiB to \(residentAfter) KiB (bound: growth < \(boundKiB) KiB)")

        // The stalled subscriber reads now: every message is a MSG or counted in a LAGGED.
        var next = 0
        var received = 0
        var lagged = 0
        while next < messages {
            let line = try stalled.line()
            if line.hasPrefix("LAGGED \(topic) "), let count = Int(line.split(separator: " ").last ?? ""), count > 0 {
                lagged += count
                next += count
                continue
            }
            guard line.hasPrefix("MSG \(topic) \(eightDigits(next))x") else {
                Issue.record("stalled subscriber got '\(line.prefix(40))...' where \(next) was due")
                return
            }
            next += 1
            received += 1
        }
        #expect(received + lagged == messages)
        #expect(lagged > 0, "the stalled subscriber never lagged: the test did not stall it")
        try stalled.barrier()
    }

    private static func eightDigits(_ value: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    // MARK: A client that never reads its replies

    /// Pipelines PINGs without reading a reply until its socket is full: the broker
    /// stops reading it (TCP backpressure) instead of queueing replies without bound,
    /// and once the client reads, every reply comes, in order.
    static func replyHoarder(_ broker: BrokerProcess) throws {
        let client = try broker.connect(receiveBuffer: 4096)
        let token = String(repeating: "h", count: 100)
        let lines = 1000
        var block: [UInt8] = []
        for index in 0..<lines { block += Array("PING \(index)-\(token)\n".utf8) }
        let residentBefore = try residentKiB(broker.pid)
        var blocks = 0
        var offset = 0
        while blocks < 1000 {  // at most ~100 MB: the socket fills long before
            offset = try client.sendWithoutBlocking(block, from: 0)
            if offset < block.count { break }
            blocks += 1
        }
        #expect(blocks < 1000, "the broker read 100 MB of commands without its replies being read")
        let residentFull = try residentKiB(broker.pid)
        #expect(underAddressSanitizer || residentFull - residentBefore < 16 * 1024,
                "broker RSS grew from \(residentBefore) KiB to \(residentFull) KiB with replies unread")
        var answered = 0
        func expectPong() throws -> Bool {
            let line = try client.line()
            let expected = "PONG \(answered % lines)-\(token)"
            if line != expected { Issue.record("got '\(line.prefix(40))' where reply \(answered) was due"); return false }
            answered += 1
            return true
        }
        while offset < block.count {  // finish the last block, reading as the broker asks
            guard try expectPong() else { return }
            offset = try client.sendWithoutBlocking(block, from: offset)
        }
        while answered < (blocks + 1) * lines { guard try expectPong() else { return } }
        try client.barrier("hoarder")
    }

    // MARK: Connection churn

    /// Opens and closes `cycles` connections in batches; some send a line, some
    /// subscribe, some leave a partial line. The broker keeps serving.
    static func connectionChurn(_ broker: BrokerProcess, cycles: Int = 10_000, batch: Int = 250) throws {
        raiseOpenFileLimit()
        var done = 0
        while done < cycles {
            var clients: [TestClient] = []
            let count = min(batch, cycles - done)
            for offset in 0..<count {
                let client = try broker.connect()
                switch (done + offset) % 4 {
                case 1: try client.send("PING churn")
                case 2: try client.send("SUB churn.\(done + offset)")
                case 3: try client.sendRaw("PUB churn.x partial")
                default: break
                }
                clients.append(client)
            }
            clients.removeAll()  // closes the batch
            done += count
        }
        let after = try broker.connect()
        try after.barrier("after-churn")
    }

    // MARK: Half-closed sockets

    /// Commands then `shutdown(SHUT_WR)`: every reply still comes, then end of file.
    /// Also with enough replies queued that the broker has paused its input at EOF.
    static func halfClosedWriter(_ broker: BrokerProcess) throws {
        let client = try broker.connect()
        try client.sendRaw("PING a\nPUB half.w x\nSUB half.w\nPING b\nPUB half.w partial-never-ends")
        client.shutdownWrite()
        try client.expectLine("PONG a")
        try client.expectLine("OK 0")
        try client.expectLine("OK")
        try client.expectLine("PONG b")
        try client.expectEOF()

        // 20,000 PINGs with 100-byte tokens (2 MB of replies) through a small receive buffer.
        let reader = try broker.connect(receiveBuffer: 4096)
        let padding = String(repeating: "p", count: 100)
        let total = 20_000
        var bytes: [UInt8] = []
        for index in 0..<total { bytes += Array("PING \(index)-\(padding)\n".utf8) }
        var offset = 0
        var answered = 0
        func expectPong() throws -> Bool {
            let line = try reader.line()
            if line != "PONG \(answered)-\(padding)" { Issue.record("got '\(line.prefix(40))' for PING \(answered)"); return false }
            answered += 1
            return true
        }
        while offset < bytes.count {
            offset = try reader.sendWithoutBlocking(bytes, from: offset)
            if offset < bytes.count { guard try expectPong() else { return } }  // the socket is full: take a reply
        }
        reader.shutdownWrite()
        while answered < total { guard try expectPong() else { return } }
        try reader.expectEOF()
    }

    /// A client that shuts its read side down and keeps sending: the broker executes
    /// its commands, writes to it without harm, and closes it when it goes.
    static func halfClosedReader(_ broker: BrokerProcess) throws {
        let observer = try broker.connect()
        #expect(try observer.request("SUB half.r.check") == "OK")
        let publisher = try broker.connect()
        let from = broker.stderr.lines.count
        var port = 0
        do {
            let client = try broker.connect()
            port = client.localPort
            _ = Glibc.shutdown(client.fd, Int32(SHUT_RD))
            try client.send("SUB half.r")
            try client.send("PUB half.r.check hello")
            try observer.expectLine("MSG half.r.check hello")
            for index in 0..<200 { #expect(try publisher.request("PUB half.r \(index)") == "OK 1") }
            try client.send("PING still-here")
            try client.send("PUB half.r.check again")
            try observer.expectLine("MSG half.r.check again")
        }
        try waitForClose(broker, port: port, from: from)
        #expect(try publisher.request("PUB half.r gone") == "OK 0")
    }

    // MARK: Reset in the middle of a frame

    /// Half a PUB line, then a reset (`SO_LINGER` 0, close): the half line is never
    /// published, and the connection is closed. Also a stalled subscriber of the calm
    /// topic that resets while the broker has messages queued for it, and a client
    /// that resets while the broker has paused its input (its replies unread).
    static func resetInTheMiddleOfAFrame(_ broker: BrokerProcess, calmTopic: String) throws {
        let from = broker.stderr.lines.count
        var ports: [Int] = []
        do {
            let client = try broker.connect()
            ports.append(client.localPort)
            try client.sendRaw("PING mid\nPUB \(calmTopic) 999999-half")
            try client.expectLine("PONG mid")  // the broker has read the half line
            setResetOnClose(client.fd)

            let stalled = try broker.connect(receiveBuffer: 4096)
            ports.append(stalled.localPort)
            #expect(try stalled.request("SUB \(calmTopic)") == "OK")
            try stalled.sendRaw("PUB \(calmTopic) 999998-ha")
            setResetOnClose(stalled.fd)

            // A client whose unread replies made the broker pause its input.
            let hoarder = try broker.connect(receiveBuffer: 4096)
            ports.append(hoarder.localPort)
            let block = Array(String(repeating: "PING \(String(repeating: "r", count: 100))\n", count: 1000).utf8)
            var rounds = 0
            while rounds < 1000, try hoarder.sendWithoutBlocking(block, from: 0) == block.count { rounds += 1 }
            setResetOnClose(hoarder.fd)
        }  // all closed here, with a reset
        for port in ports { try waitForClose(broker, port: port, from: from) }
    }

    // MARK: Long lines

    /// Four 1 MB lines: one `ERR line-too-long` each, the connection stays usable,
    /// and the broker's peak memory does not grow by the megabyte.
    static func hugeLines(_ broker: BrokerProcess) throws {
        let client = try broker.connect()
        // Warm-up: valid lines just under the limit, in one write, touch the broker's
        // read buffer and the framer's line buffer at their full size first.
        var valid: [UInt8] = []
        for _ in 0..<8 { valid += Array("PUB huge.t ".utf8) + [UInt8](repeating: 0x62, count: 65_000) + [0x0A] }
        try client.sendBytes(valid)
        for _ in 0..<8 { try client.expectLine("OK 0") }
        let peakBefore = try procStatusKiB(broker.pid, "VmHWM")
        let residentBefore = try residentKiB(broker.pid)
        var line = Array("PUB huge.t ".utf8)
        line += [UInt8](repeating: 0x61, count: 1 << 20)
        line.append(0x0A)
        for _ in 0..<4 { try client.sendBytes(line) }
        try client.send("PING huge")
        for _ in 0..<4 { try client.expectLine(startingWith: "ERR line-too-long ") }
        try client.expectLine("PONG huge")
        #expect(try client.request("PUB huge.t fine") == "OK 0")
        let peakAfter = try procStatusKiB(broker.pid, "VmHWM")
        let residentAfter = try residentKiB(broker.pid)
        #expect(underAddressSanitizer || peakAfter - peakBefore < 512, "broker peak RSS grew from \(peakBefore) KiB to \(peakAfter) KiB")
        #expect(underAddressSanitizer || residentAfter - residentBefore < 512, "broker RSS grew from \(residentBefore) KiB to \(residentAfter) KiB")
    }

    // MARK: Random bytes

    /// Seeded garbage, with protocol fragments mixed in: every line the broker sends
    /// back is well formed (or it closes the connection), and it keeps serving.
    static func randomBytes(_ broker: BrokerProcess, seed: UInt64 = 0x5EED_0001, connections: Int = 16, bytesEach: Int = 16_384) throws {
        var generator = HostileRandom(state: seed)
        var served = 0  // connections that got their final PONG
        let fragments = ["PUB ", "SUB ", "UNSUB ", "PING", "PING ", "STATS", "AUTH ", " ", "\r", "\r\n", "\n", "*", ">", ".", "$SYS", "a.b", "calm.random"]
        for index in 0..<connections {
            var bytes: [UInt8] = []
            while bytes.count < bytesEach {
                let draw = generator.next()
                switch draw % 8 {
                case 0, 1: bytes += Array(fragments[Int((draw >> 8) % UInt64(fragments.count))].utf8)
                default: bytes.append(UInt8(truncatingIfNeeded: draw >> 16))
                }
            }
            bytes += Array("\nPING end-\(index)\n".utf8)
            let client = try broker.connect()
            var closed = false
            var finished = false
            func take() throws {
                guard let line = try client.readLine() else { closed = true; return }
                if line == "PONG end-\(index)" { finished = true; return }
                #expect(isWellFormedFrame(line), "connection \(index) got '\(line)'")
            }
            var offset = 0
            do {
                while offset < bytes.count && !closed {
                    offset = try client.sendWithoutBlocking(bytes, from: offset)
                    if offset < bytes.count { try take() }
                }
            } catch {
                closed = true  // the broker closed it (a random QUIT, say): allowed
            }
            while !closed && !finished { try take() }
            if finished { served += 1 }
        }
        #expect(served >= connections / 2, "only \(served) of \(connections) garbage connections were still served at the end")
        let after = try broker.connect()
        try after.barrier("after-random")
    }

    /// A frame the broker may send: a reply (`OK`, `PONG`, `ERR <code> <text>`) or an
    /// unasked `MSG`, `LAGGED` or `BYE`.
    static func isWellFormedFrame(_ line: String) -> Bool {
        if line == "OK" || line.hasPrefix("OK ") || line == "PONG" || line.hasPrefix("PONG ") { return true }
        if line.hasPrefix("MSG ") || line.hasPrefix("LAGGED ") { return true }
        if line.hasPrefix("ERR ") || line.hasPrefix("BYE ") {
            let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            return parts.count == 3 && !parts[1].isEmpty && parts[1].allSatisfy { ("a"..."z").contains($0) || $0 == "-" }
                && !parts[2].isEmpty
        }
        return false
    }
}
