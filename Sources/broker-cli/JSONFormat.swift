// The `sub --json` line: JSON string escaping, U+FFFD for invalid UTF-8, RFC 3339 UTC time with microseconds.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Formats messages as JSON lines.
enum JSONFormat {
    /// Appends `{"topic": ..., "payload": ..., "time": ...}` and a LF.
    static func appendMessage(topic: some Collection<UInt8>, payload: some Collection<UInt8>, time: WallTime, to out: inout [UInt8]) {
        appendMessage(topic: topic, payload: payload, formattedTime: time.rfc3339, to: &out)
    }

    /// Appends `{"topic": ..., "payload": ..., "time": ...}` and a LF, the time already formatted.
    static func appendMessage(topic: some Collection<UInt8>, payload: some Collection<UInt8>, formattedTime: String, to out: inout [UInt8]) {
        out.append(contentsOf: #"{"topic": "#.utf8)
        appendString(topic, to: &out)
        out.append(contentsOf: #", "payload": "#.utf8)
        appendString(payload, to: &out)
        out.append(contentsOf: #", "time": ""#.utf8)
        out.append(contentsOf: formattedTime.utf8)
        out.append(contentsOf: "\"}\n".utf8)
    }

    /// Appends bytes as a quoted JSON string: invalid UTF-8 becomes U+FFFD, `"`, `\`
    /// and control characters are escaped (short forms where JSON has them).
    static func appendString(_ bytes: some Collection<UInt8>, to out: inout [UInt8]) {
        out.append(0x22)
        // The common case, printable ASCII without quote or backslash, is copied as it is.
        if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }) {
            out.append(contentsOf: bytes)
        } else {
            let repaired = String(decoding: bytes, as: UTF8.self)
            for byte in repaired.utf8 { appendEscaped(byte, to: &out) }
        }
        out.append(0x22)
    }

    /// Appends one byte of valid UTF-8, escaped if JSON requires it.
    static func appendEscaped(_ byte: UInt8, to out: inout [UInt8]) {
        switch byte {
        case 0x22: out.append(contentsOf: #"\""#.utf8)
        case 0x5C: out.append(contentsOf: #"\\"#.utf8)
        case 0x0A: out.append(contentsOf: #"\n"#.utf8)
        case 0x0D: out.append(contentsOf: #"\r"#.utf8)
        case 0x09: out.append(contentsOf: #"\t"#.utf8)
        case 0x08: out.append(contentsOf: #"\b"#.utf8)
        case 0x0C: out.append(contentsOf: #"\f"#.utf8)
        case 0x00..<0x20, 0x7F:
            let hex: [UInt8] = Array("0123456789abcdef".utf8)
            out.append(contentsOf: #"\u00"#.utf8)
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0xF)])
        default: out.append(byte)
        }
    }
}

/// A wall-clock instant with microsecond precision.
struct WallTime: Equatable, Sendable {
    /// Seconds since 1970-01-01T00:00:00Z.
    var seconds: Int
    /// Microseconds within the second, 0...999999.
    var microseconds: Int

    /// Now, from `CLOCK_REALTIME`.
    static func now() -> WallTime {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return WallTime(seconds: Int(spec.tv_sec), microseconds: Int(spec.tv_nsec) / 1000)
    }

    /// RFC 3339 in UTC with microseconds: `2026-11-27T03:32:01.123456Z`.
    var rfc3339: String { secondsPrefix + microsecondsSuffix }

    /// `.123456Z`, the part that changes within a second.
    var microsecondsSuffix: String {
        let digits = String(microseconds)
        return "." + String(repeating: "0", count: max(0, 6 - digits.count)) + digits + "Z"
    }

    /// `2026-11-27T03:32:01`, the part that stays the same for a whole second.
    var secondsPrefix: String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))"
    }
}

/// Formats times as RFC 3339, formatting the date and second once per second rather than per message.
struct TimeFormatter {
    /// The second last formatted, and its `secondsPrefix`.
    private var last: (seconds: Int, prefix: String) = (Int.min, "")

    /// `time.rfc3339`, faster.
    mutating func format(_ time: WallTime) -> String {
        if last.seconds != time.seconds { last = (time.seconds, time.secondsPrefix) }
        return last.prefix + time.microsecondsSuffix
    }
}
