#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value that failed validation; `reason` reads like
/// `expected an integer from 0 to 65535, got 'abc'`.
struct InvalidValue: Error, Sendable, Equatable {
    let reason: String
}

/// Parsers shared by the key descriptors. Each one is total: it returns a
/// value inside its documented domain or an `InvalidValue`, never traps.
enum ValueParsers {
    /// A plain decimal integer (ASCII digits only, no sign, no spaces) within
    /// `range`. Overflowing input is rejected like any other out-of-range value.
    static func integer(_ text: String, in range: ClosedRange<Int>) -> Result<Int, InvalidValue> {
        let failure = InvalidValue(
            reason: "expected an integer from \(range.lowerBound) to \(range.upperBound), got \(ConfigText.quoted(text))")
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return .failure(failure)
        }
        guard let value = Int(text), range.contains(value) else {
            return .failure(failure)
        }
        return .success(value)
    }

    /// An IPv4 or IPv6 address literal, as accepted by `inet_pton(3)`.
    static func ipLiteral(_ text: String) -> Result<String, InvalidValue> {
        var v4 = in_addr()
        var v6 = in6_addr()
        let ok = text.withCString { cString in
            inet_pton(AF_INET, cString, &v4) == 1 || inet_pton(AF_INET6, cString, &v6) == 1
        }
        guard ok, !text.utf8.contains(0) else {
            return .failure(InvalidValue(
                reason: "expected an IPv4 or IPv6 address literal, got \(ConfigText.quoted(text))"))
        }
        return .success(text)
    }

    /// One of the `LogLevel` spellings.
    static func logLevel(_ text: String) -> Result<LogLevel, InvalidValue> {
        if let level = LogLevel(rawValue: text) {
            return .success(level)
        }
        let names = LogLevel.allCases.map(\.rawValue).joined(separator: ", ")
        return .failure(InvalidValue(reason: "expected one of \(names), got \(ConfigText.quoted(text))"))
    }

    /// A secret token: printable ASCII without spaces, at most 4096 bytes, or
    /// empty (no token). The error never repeats the value: it is a secret.
    static func token(_ text: String) -> Result<String, InvalidValue> {
        if text.isEmpty { return .success("") }
        guard text.utf8.count <= 4096, text.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            return .failure(InvalidValue(reason: "expected printable ASCII without spaces, at most 4096 bytes (the value is not shown)"))
        }
        return .success(text)
    }

    /// A switch: `on` or `off`.
    static func onOff(_ text: String) -> Result<Bool, InvalidValue> {
        switch text {
        case "on": .success(true)
        case "off": .success(false)
        default: .failure(InvalidValue(reason: "expected on or off, got \(ConfigText.quoted(text))"))
        }
    }

    /// A file path, or empty (none). Control characters are refused: a path ending in CR would
    /// not survive being written back as a line (the fuzz target's round trip found it).
    static func path(_ text: String) -> Result<String, InvalidValue> {
        guard !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }), text.utf8.count <= 4096 else {
            return .failure(InvalidValue(reason: "expected a file path, got \(ConfigText.quoted(text))"))
        }
        return .success(text)
    }
}
