import Glibc
import Synchronization
import Testing
@testable import Broker

/// The log line's bytes (``LogLineFormat``) and the ``Logger`` that writes them.
@Suite struct LoggerTests {
    private func timestamp(_ seconds: Int64, _ nanoseconds: Int64 = 0) -> String {
        var line: [UInt8] = []
        LogLineFormat.appendTimestamp(seconds: seconds, nanoseconds: nanoseconds, to: &line)
        return String(decoding: line, as: UTF8.self)
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (951_782_400, "2000-02-29T00:00:00.000Z"),       // a leap day in a year divisible by 400
        (951_868_799, "2000-02-29T23:59:59.000Z"),
        (4_107_542_400, "2100-03-01T00:00:00.000Z"),     // 2100 has no February 29
        (1_709_164_800, "2024-02-29T00:00:00.000Z"),
        (1_735_689_599, "2024-12-31T23:59:59.000Z"),
        (1_764_812_400, "2025-12-04T01:40:00.000Z"),
        (253_402_300_799, "9999-12-31T23:59:59.000Z"),
        (-1, "1969-12-31T23:59:59.000Z"),
        (-86_400, "1969-12-31T00:00:00.000Z"),
    ])
    func timestampsOfKnownInstants(seconds: Int64, expected: String) {
        #expect(timestamp(seconds) == expected)
    }

    @Test func millisecondsAreTruncatedAndKeptInRange() {
        #expect(timestamp(0, 123_999_999) == "1970-01-01T00:00:00.123Z")
        #expect(timestamp(0, 999_999_999) == "1970-01-01T00:00:00.999Z")
        #expect(timestamp(0, 1_000_000) == "1970-01-01T00:00:00.001Z")
        #expect(timestamp(0, 999_999) == "1970-01-01T00:00:00.000Z")
        #expect(timestamp(0, 5_000_000_000) == "1970-01-01T00:00:00.999Z")
        #expect(timestamp(0, -1) == "1970-01-01T00:00:00.000Z")
    }

    @Test func aClockOutsideFourDigitYearsKeepsTheLineShape() {
        #expect(timestamp(253_402_300_800).count == LogLineFormat.timestampBytes)  // year 10000
        #expect(timestamp(253_402_300_800).hasPrefix("0000-01-01T00:00:00"))
        #expect(timestamp(-62_167_219_201).count == LogLineFormat.timestampBytes)   // before year 0
    }

    /// The computed civil date against the C library's, for a spread of instants over 1900 to 2400.
    @Test func timestampsAgreeWithGmtime() {
        var generator = SystemRandomNumberGenerator()
        for index in 0..<20_000 {
            let seconds = index < 10_000
                ? Int64.random(in: -2_208_988_800...13_569_465_600, using: &generator)
                : Int64(index - 10_000) * 86_400 * 37 - 2_208_988_800 + Int64(index % 86_400)
            var time = time_t(seconds)
            var parts = tm()
            #expect(gmtime_r(&time, &parts) != nil)
            let expected = [
                pad(Int(parts.tm_year) + 1900, 4), "-", pad(Int(parts.tm_mon) + 1, 2), "-", pad(Int(parts.tm_mday), 2), "T",
                pad(Int(parts.tm_hour), 2), ":", pad(Int(parts.tm_min), 2), ":", pad(Int(parts.tm_sec), 2), ".000Z",
            ].joined()
            let got = timestamp(seconds)
            if got != expected {
                Issue.record("\(seconds): \(got), gmtime_r says \(expected)")
                return
            }
        }
    }

    private func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }

    @Test(arguments: [UInt64(0), 7, 10, 99, 12_345, 1_000_000_000, UInt64.max])
    func decimals(value: UInt64) {
        var line: [UInt8] = []
        LogLineFormat.appendLine(seconds: 0, nanoseconds: 0, level: .info, connection: value, peer: nil,
                                 message: "x", to: &line)
        #expect(String(decoding: line, as: UTF8.self).hasSuffix(" info conn=\(value) x"))
    }

    @Test func aLineHasItsFieldsInOrder() {
        var line: [UInt8] = []
        LogLineFormat.appendLine(seconds: 1_764_812_400, nanoseconds: 42_000_000, level: .warn, connection: 12,
                                 peer: "127.0.0.1:5555", message: "connection opened", to: &line)
        #expect(String(decoding: line, as: UTF8.self)
            == "2025-12-04T01:40:00.042Z warn conn=12 peer=127.0.0.1:5555 connection opened")
        line.removeAll()
        LogLineFormat.appendLine(seconds: 0, nanoseconds: 0, level: .error, connection: nil, peer: nil,
                                 message: "ünïcode ✓ kept", to: &line)
        #expect(String(decoding: line, as: UTF8.self) == "1970-01-01T00:00:00.000Z error ünïcode ✓ kept")
    }

    @Test func theSinkGetsEachEnabledLineAndNoMessageIsBuiltForADisabledOne() {
        let lines = LinesSeen()
        let logger = Logger(level: .info) { lines.add($0) }
        var built = 0
        logger.debug({ built += 1; return "hidden" }(), connection: 1)
        #expect(built == 0)
        logger.info("shown", connection: 3, peer: "[::1]:80")
        logger.error("also shown")
        let seen = lines.all
        #expect(seen.count == 2)
        #expect(seen.first?.hasSuffix(" info conn=3 peer=[::1]:80 shown") == true)
        #expect(seen.last?.hasSuffix(" error also shown") == true)
        #expect(seen.allSatisfy { $0.utf8.count > LogLineFormat.timestampBytes && !$0.contains("\n") })
        logger.setLevel(.error)
        logger.warn("now hidden")
        #expect(lines.all.count == 2)
    }

    /// A descriptor gets whole lines, each ended by one LF, a long one too.
    @Test func aDescriptorGetsWholeLines() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]) }
        let logger = Logger(level: .debug, descriptor: ends[1])
        let long = String(repeating: "abcdefghij", count: 2_000)
        logger.info("first", connection: 9)
        logger.debug(long)
        close(ends[1])
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(ends[0], $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            received.append(contentsOf: chunk[0..<count])
        }
        let text = String(decoding: received, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 3)  // two lines and the empty rest after the last LF
        #expect(lines[0].hasSuffix(" info conn=9 first"))
        #expect(lines[1].hasSuffix(" debug " + long))
        #expect(lines[2].isEmpty)
    }
}

/// Lines a sink received (the sink may be called from any thread).
private final class LinesSeen: Sendable {
    private let lines = Mutex<[String]>([])
    func add(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}
