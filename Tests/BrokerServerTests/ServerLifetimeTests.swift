// A stopped BrokerServer frees everything it made: loops, reactors, cores, schedulers, mailboxes.
// (Sessions, rings and HTTP connections hold no reference back; AddressSanitizer's leak check,
// scripts/ci-asan.sh, catches any of them left behind by these runs.)
import Glibc
import Posix
import Testing
@testable import Broker

@Suite struct ServerLifetimeTests {
    /// Runs a server with traffic of every kind, stops it, and returns a weak reference to it.
    /// Weak references to a server and what it made.
    final class Watched {
        weak var server: BrokerServer?
        weak var context: ServerContext?
        var loops: [WeakLoop] = []
        struct WeakLoop {
            weak var loop: BrokerLoop?
            weak var reactor: Reactor?
            weak var core: CommandCore?
            weak var scheduler: DeliveryScheduler?
            weak var mailbox: LoopMailbox?
        }

        /// The names of the objects still alive.
        var alive: [String] {
            var names: [String] = []
            if server != nil { names.append("server") }
            if context != nil { names.append("context") }
            for (index, entry) in loops.enumerated() {
                if entry.loop != nil { names.append("loop \(index)") }
                if entry.reactor != nil { names.append("reactor \(index)") }
                if entry.core != nil { names.append("core \(index)") }
                if entry.scheduler != nil { names.append("scheduler \(index)") }
                if entry.mailbox != nil { names.append("mailbox \(index)") }
            }
            return names
        }
    }

    private func runAndStop() throws -> Watched {
        let broker = try InProcessBroker { $0.threads = 2; $0.capacity = 64 }
        let watched = Watched()
        watched.server = broker.server
        watched.context = broker.server.context
        watched.loops = broker.server.loops.map {
            Watched.WeakLoop(loop: $0, reactor: $0.reactor, core: $0.core, scheduler: $0.scheduler, mailbox: $0.mailbox)
        }
        _ = try broker.server.startMetrics(port: 0, requestDeadlineMs: 1000)
        let subscriber = try broker.connect()
        let pattern = try broker.connect()
        let publisher = try broker.connect()
        try subscriber.sendRaw("SUB t\nSUB $SYS.>\n")
        try pattern.sendRaw("SUB t.*\nSUB >\n")
        #expect(try subscriber.readLine() == "OK")
        #expect(try subscriber.readLine() == "OK")
        #expect(try pattern.readLine() == "OK")
        #expect(try pattern.readLine() == "OK")
        for index in 0..<50 { try publisher.sendRaw("PUB t \(index)\nPUB t.x \(index)\n") }
        try publisher.sendRaw("PING done\n")
        var line: String? = ""
        while line != "PONG done" && line != nil { line = try publisher.readLine() }
        #expect(line == "PONG done")
        // A client that never reads keeps messages queued at the stop (its socket is
        // full: 64 held messages of 16 KB are more than loopback buffers take).
        let stuck = try broker.connect(receiveBuffer: 4096)
        try stuck.sendRaw("SUB t\nPING s\n")
        #expect(try stuck.readLine() == "OK")
        #expect(try stuck.readLine() == "PONG s")
        let big = String(repeating: "x", count: 16_000)
        for index in 0..<200 { try publisher.sendRaw("PUB t \(big)\(index)\n") }
        try publisher.sendRaw("PING again\n")
        while line != "PONG again" && line != nil { line = try publisher.readLine() }
        #expect(line == "PONG again")
        // With capacity 4 the subscriber's loop may first find its cursor lagged.
        let first = try subscriber.readLine() ?? ""
        #expect(first.hasPrefix("MSG ") || first.hasPrefix("LAGGED "), "\(first)")
        // A metrics request in flight at the stop: connected, its head not complete.
        let metricsAddress = try broker.server.startMetrics(port: 0, requestDeadlineMs: 1000)
        let scrape = try TestClient(port: metricsAddress.port)
        try scrape.sendRaw("GET /metrics HTTP/1.1\r\n")
        try publisher.sendRaw("PING last\n")  // a round trip on loop 0 after the scrape connected
        while line != "PONG last" && line != nil { line = try publisher.readLine() }
        broker.stop()
        _ = scrape
        return watched
    }

    @Test func aStoppedServerIsFreed() throws {
        let watched = try runAndStop()
        #expect(watched.alive.isEmpty, "still alive after stop: \(watched.alive)")
    }

    @Test func aServerThatNeverStartedIsFreed() throws {
        weak var weakServer: BrokerServer?
        do {
            var config = BrokerConfig()
            config.port = 0
            config.threads = 2
            let server = try BrokerServer(config: config, logger: Logger(level: .error) { _ in })
            weakServer = server
        }
        #expect(weakServer == nil)
    }
}
