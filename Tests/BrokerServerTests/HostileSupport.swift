// Support for the hostile-client tests: a well-behaved pair that must lose nothing, /proc readings, a seeded generator.
import Dispatch
import Foundation
import Glibc
import Synchronization
import Testing

/// A well-behaved publisher and subscriber on one topic, run beside a hostile
/// client. They exchange numbered messages before, during (on a background
/// thread) and after the hostile action; every message must arrive, in order,
/// with no `LAGGED` (chunks of 32 never fill the ring).
///
/// Used from one thread at a time: the test thread, or the background thread
/// between ``startExchanging()`` and ``stopExchanging()`` (the semaphore hands
/// it back), hence `@unchecked Sendable`.
final class CalmPair: @unchecked Sendable {
    /// The topic the pair uses.
    let topic: String
    private let publisher: TestClient
    private let subscriber: TestClient
    /// Messages published so far; the next one carries this number.
    private(set) var sent = 0
    /// What went wrong, if anything (the first problem stops the exchange).
    private(set) var problems: [String] = []
    /// Asks the background exchange to stop.
    private let stopRequested = Atomic<Bool>(false)
    /// Signalled when the background exchange has stopped.
    private let stopped = DispatchSemaphore(value: 0)

    init(port: Int, topic: String) throws {
        self.topic = topic
        publisher = try TestClient(port: port)
        subscriber = try TestClient(port: port)
        let reply = try subscriber.request("SUB \(topic)")
        guard reply == "OK" else { throw ClientError("calm subscriber: SUB answered '\(reply)'") }
    }

    /// Publishes `count` more messages in chunks of 32 and checks every reply and delivery.
    func exchange(_ count: Int) throws {
        var remaining = count
        while remaining > 0 && problems.isEmpty {
            let chunk = min(32, remaining)
            let first = sent
            var lines = ""
            for sequence in first..<(first + chunk) { lines += "PUB \(topic) \(sequence)\n" }
            try publisher.sendRaw(lines)
            for _ in 0..<chunk {
                let reply = try publisher.line()
                if !reply.hasPrefix("OK ") { problems.append("calm publisher got '\(reply)'"); return }
            }
            for sequence in first..<(first + chunk) {
                let line = try subscriber.line()
                if line != "MSG \(topic) \(sequence)" {
                    problems.append("calm subscriber got '\(line)' where message \(sequence) was due")
                    return
                }
            }
            sent += chunk
            remaining -= chunk
        }
    }

    /// Keeps exchanging on a background thread until ``stopExchanging()``.
    func startExchanging() {
        stopRequested.store(false, ordering: .relaxed)
        let thread = Thread { [self] in
            while !stopRequested.load(ordering: .relaxed) && problems.isEmpty {
                do { try exchange(32) } catch {
                    problems.append("calm pair: \(error)")
                    break
                }
            }
            stopped.signal()
        }
        thread.start()
    }

    /// Ends both connections with QUIT and waits for the broker to close them.
    func quit() throws {
        for client in [publisher, subscriber] {
            try client.send("QUIT")
            while let line = try client.readLine() {
                if line == "OK" { continue }
                problems.append("calm pair got '\(line)' after QUIT")
            }
        }
    }

    /// Stops the background exchange and waits for it (guarded).
    func stopExchanging() throws {
        stopRequested.store(true, ordering: .relaxed)
        if stopped.wait(timeout: .now() + .seconds(2 * ioGuardSeconds)) == .timedOut {
            throw ClientError("calm pair did not stop")
        }
    }
}

/// Runs `action` beside a calm pair: 200 messages before, a background exchange
/// during, 200 after; then expects that the pair lost nothing.
func besideCalmPair(_ port: Int, _ name: String, sourceLocation: SourceLocation = #_sourceLocation,
                    _ action: () throws -> Void) throws {
    let pair = try CalmPair(port: port, topic: "calm.\(name)")
    try pair.exchange(200)
    pair.startExchanging()
    var actionError: (any Error)?
    do { try action() } catch { actionError = error }
    try pair.stopExchanging()
    if let actionError { throw actionError }
    try pair.exchange(200)
    try pair.quit()
    #expect(pair.problems.isEmpty, "\(pair.problems)", sourceLocation: sourceLocation)
    #expect(pair.sent >= 400, sourceLocation: sourceLocation)
}

// MARK: - /proc readings of the broker-server child

/// True when the tests (and so the broker-server built beside them) run under
/// AddressSanitizer: its quarantine keeps freed memory resident on purpose
/// (hundreds of MB under the non-reader load), so the RSS bounds do not apply.
let underAddressSanitizer = dlsym(nil, "__asan_init") != nil

/// A `Vm...:` field of /proc/<pid>/status, in KiB.
func procStatusKiB(_ pid: Int32, _ field: String) throws -> Int {
    let text = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        let digits = line.dropFirst(field.count + 1).filter(\.isNumber)
        if let value = Int(digits) { return value }
    }
    throw ClientError("no \(field) in /proc/\(pid)/status")
}

/// Resident memory of `pid`, in KiB.
func residentKiB(_ pid: Int32) throws -> Int { try procStatusKiB(pid, "VmRSS") }

/// Open file descriptors of `pid`.
func openDescriptorCount(_ pid: Int32) throws -> Int {
    try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
}

/// What each open descriptor of `pid` refers to (for failure messages).
func openDescriptors(_ pid: Int32) -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
    return names.sorted { (Int($0) ?? 0) < (Int($1) ?? 0) }.map { name in
        let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(name)")) ?? "?"
        return "\(name)->\(target)"
    }
}

/// Waits until the broker holds at most `target` descriptors: between readings the
/// `probe` connection sends a PING barrier (so the broker's loops take turns).
/// Bounded: gives up after `attempts` barriers or `guardSeconds`; returns the last count.
func settledDescriptorCount(_ pid: Int32, target: Int, probe: TestClient,
                            attempts: Int = 20_000, guardSeconds: Double = 20) throws -> Int {
    let deadline = Date().addingTimeInterval(guardSeconds)
    var count = try openDescriptorCount(pid)
    var attempt = 0
    while count > target && attempt < attempts && Date() < deadline {
        try probe.barrier("fd\(attempt)")
        count = try openDescriptorCount(pid)
        attempt += 1
    }
    return count
}

/// Runs `body` and expects the broker's descriptor count to return to what it was before.
func expectDescriptorsReturn(_ broker: BrokerProcess, sourceLocation: SourceLocation = #_sourceLocation,
                             _ body: () throws -> Void) throws {
    let probe = try broker.connect()
    try probe.barrier()
    let before = try openDescriptorCount(broker.pid)
    let listBefore = openDescriptors(broker.pid)
    let countsBefore = try brokerCounts(probe)
    try body()
    let after = try settledDescriptorCount(broker.pid, target: before, probe: probe)
    // The broker's own accounting returns too: connections, topics, subscriptions.
    var countsAfter = try brokerCounts(probe)
    for _ in 0..<1000 where countsAfter != countsBefore { countsAfter = try brokerCounts(probe) }
    #expect(countsAfter == countsBefore, "STATS before: \(countsBefore), after: \(countsAfter)", sourceLocation: sourceLocation)
    #expect(after == before, "broker descriptors: \(before) before \(listBefore), \(after) after \(openDescriptors(broker.pid))",
            sourceLocation: sourceLocation)
    // Under scripts/sanitizers.sh the child is instrumented too; its reports land in its stderr.
    let reports = broker.stderr.lines.filter { $0.contains("Sanitizer") || $0.contains("runtime error") }
    #expect(reports.isEmpty, "broker-server stderr: \(reports.prefix(20))", sourceLocation: sourceLocation)
}

/// `connections`, `topics` and `subscriptions` from the broker's `STATS` line.
func brokerCounts(_ probe: TestClient) throws -> [String: Int] {
    let line = try probe.request("STATS")
    var counts: [String: Int] = [:]
    for field in line.split(separator: " ") {
        let parts = field.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, ["connections", "topics", "subscriptions"].contains(String(parts[0])) else { continue }
        counts[String(parts[0])] = Int(parts[1])
    }
    guard counts.count == 3 else { throw ClientError("unexpected STATS reply '\(line)'") }
    return counts
}

// MARK: - Sockets

/// Sets `SO_LINGER` to zero: closing the socket then sends a reset, not a FIN.
func setResetOnClose(_ fd: Int32) {
    var value = linger(l_onoff: 1, l_linger: 0)
    _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &value, socklen_t(MemoryLayout<linger>.size))
}

/// A small deterministic generator (SplitMix64), so failures reproduce.
struct HostileRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Monotonic milliseconds (to report how long the broker took, never to wait).
func testMonotonicMs() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}
