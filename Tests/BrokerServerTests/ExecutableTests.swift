// The broker-server executable: flags, exit codes, readiness line, signals.
import Broker
import Foundation
import Glibc
import Testing

/// The configuration file lines every started broker gets, before the test's own.
let baseConfig = ["host 127.0.0.1", "threads 2"]

@Suite struct ExecutableTests {
    @Test func helpPrintsUsageAndExitsZero() throws {
        let result = try runBrokerServer(["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.first?.hasPrefix("OVERVIEW:") == true)
        #expect(result.stdout.contains { $0.hasPrefix("USAGE:") })
        #expect(result.stdout.contains { $0.contains("--max-line-bytes") })
    }

    @Test func versionPrintsTheVersionAndExitsZero() throws {
        let result = try runBrokerServer(["--version"])
        #expect(result.status == 0)
        #expect(result.stdout == ["broker-server \(BrokerVersion.current)"])
    }

    @Test func anUnknownFlagExits64WithOneLine() throws {
        let result = try runBrokerServer(["--bogus", "1"])
        #expect(result.status == 64)
        #expect(result.stderr.count == 1)
        #expect(result.stderr.first?.contains("--bogus") == true)
        #expect(result.stdout.isEmpty)
    }

    @Test(arguments: [["--port", "abc"], ["--max-line-bytes", "10"], ["--port", "1", "--port", "2"], ["stray"]])
    func aBadCommandLineExits64WithOneLine(arguments: [String]) throws {
        let result = try runBrokerServer(arguments)
        #expect(result.status == 64)
        #expect(result.stderr.count == 1, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func anUnreadableConfigurationFileExits78() throws {
        let path = NSTemporaryDirectory() + "broker-e2e-missing-\(getpid()).conf"
        let result = try runBrokerServer(["--config", path])
        #expect(result.status == 78)
        #expect(result.stderr.count == 1)
        #expect(result.stderr.first?.contains("\(path): cannot read configuration file: ") == true, "\(result.stderr)")
    }

    @Test func aBadConfigurationValueExits78NamingFileLineAndKey() throws {
        let file = try ConfigFile(["port 0", "max_line_bytes abc"])
        let result = try runBrokerServer(["--config", file.path])
        #expect(result.status == 78)
        #expect(result.stderr.count == 1)
        #expect(result.stderr.first?.contains("\(file.path):2: max_line_bytes: ") == true, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func aPortAlreadyBoundExits69() throws {
        let (listener, port) = try listenOnEphemeralPort()
        defer { Glibc.close(listener) }
        let file = try ConfigFile(baseConfig)
        let result = try runBrokerServer(["--config", file.path, "--port", "\(port)"])
        #expect(result.status == 69)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.last?.contains("cannot listen") == true, "\(result.stderr)")
    }

    @Test func sigtermSaysByeToEveryClientAndExitsZero() throws {
        let (broker, _) = try BrokerProcess.start(config: baseConfig)
        let subscriber = try broker.connect()
        #expect(try subscriber.request("SUB t") == "OK")
        let idle = try broker.connect()
        try idle.barrier()
        let partial = try broker.connect()
        try partial.sendRaw("PING a\nPUB t unfinished")
        try partial.expectLine("PONG a")
        broker.signal(SIGTERM)
        for client in [subscriber, idle, partial] {
            try client.expectLine(startingWith: "BYE shutting-down ")
            try client.expectEOF()
        }
        let status = try broker.waitForExit()
        #expect(status == 0, "exit status \(status); stderr ends \(broker.stderr.lines.suffix(3))")
        #expect(broker.stderr.lines.contains { $0.contains("shut down") })
    }

    @Test func sigintShutsDownGracefullyToo() throws {
        let (broker, _) = try BrokerProcess.start(config: baseConfig)
        let client = try broker.connect()
        try client.barrier()
        broker.signal(SIGINT)
        try client.expectLine(startingWith: "BYE shutting-down ")
        try client.expectEOF()
        let status = try broker.waitForExit()
        #expect(status == 0, "exit status \(status); stderr ends \(broker.stderr.lines.suffix(3))")
    }

    @Test func aSecondSigtermDuringTheGracePeriodExitsAtOnce() throws {
        let (broker, _) = try BrokerProcess.start(config: ["host 127.0.0.1", "threads 1", "shutdown_grace_ms 600000"])
        // A subscriber that never reads, sent far more than its socket holds: its output
        // cannot drain, so the shutdown would wait for the whole grace period. One loop:
        // the last OK is written in the same turn as the subscriber's write attempt.
        let stuck = try broker.connect(receiveBuffer: 4096)
        #expect(try stuck.request("SUB flood") == "OK")
        let publisher = try broker.connect()
        // 12 MB: more than the ring (1,024 messages) and than the broker's send buffer can
        // hold (on loopback it starts at up to tcp_wmem's 4 MiB maximum: 2 MB all fitted).
        let burst = String(repeating: "PUB flood " + String(repeating: "f", count: 8000) + "\n", count: 100)
        for _ in 0..<15 {
            try publisher.sendRaw(burst)
            for _ in 0..<100 { try publisher.expectLine("OK 1") }
        }
        // The stuck client must stay open until the end: Swift may release a local after
        // its last use, and a closed socket would let the shutdown finish at once.
        try withExtendedLifetime(stuck) {
            broker.signal(SIGTERM)
            try broker.stderr.waitForLine(containing: "shutting down (grace 600000 ms)")
            broker.signal(SIGTERM)
            let status = try broker.waitForExit()
            #expect(status == 1, "exit status \(status); stderr ends \(broker.stderr.lines.suffix(4))")
            #expect(broker.stderr.lines.contains { $0.contains("second signal") })
        }
    }

    @Test func aThousandConnectionsUseAtMostThreadsPlusFourThreads() throws {
        raiseOpenFileLimit()
        let (broker, _) = try BrokerProcess.start(config: baseConfig)
        let count = 1000
        let clients = try (0..<count).map { _ in try broker.connect() }
        for (index, client) in clients.enumerated() { try client.send("SUB own.\(index)") }
        for client in clients { try client.expectLine("OK") }
        let publisher = try broker.connect()
        for start in stride(from: 0, to: count, by: 100) {
            try publisher.sendRaw((start..<start + 100).map { "PUB own.\($0) hello-\($0)\n" }.joined())
            for _ in 0..<100 { try publisher.expectLine("OK 1") }
        }
        for (index, client) in clients.enumerated() { try client.expectLine("MSG own.\(index) hello-\(index)") }
        let status = try readWholeFile("/proc/\(broker.pid)/status")
        let threads = status.split(separator: "\n").first { $0.hasPrefix("Threads:") }
            .flatMap { Int($0.dropFirst("Threads:".count).trimmingCharacters(in: .whitespaces)) }
        #expect(threads != nil)
        #expect((threads ?? .max) <= 2 + 4, "broker-server runs \(String(describing: threads)) threads with threads = 2")
        broker.signal(SIGTERM)
        let exit = try broker.waitForExit()
        #expect(exit == 0, "exit status \(exit); stderr ends \(broker.stderr.lines.suffix(3))")
    }
}

/// A listening socket on 127.0.0.1 and the port the kernel gave it.
func listenOnEphemeralPort() throws -> (Int32, Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound, Glibc.listen(fd, 16) == 0 else { Glibc.close(fd); throw ClientError("cannot listen: errno \(errno)") }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}
