/// Why a configuration could not be built.
///
/// Guarantees: `description` is exactly one line (control characters such as
/// newlines in paths or values are escaped), and `exitCode` is the sysexits(3)
/// code the daemon should exit with: 64 (`EX_USAGE`) for a bad command line,
/// 78 (`EX_CONFIG`) for a bad or unreadable configuration file.
public enum ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A line of a configuration file is wrong: unknown key, duplicate key,
    /// missing value or bad value. `line` is 1-based. Description:
    /// `<file>:<line>: <key>: <reason>`.
    case badFileEntry(file: String, line: Int, key: String, reason: String)
    /// The configuration file could not be read. Description:
    /// `<file>: <reason>`.
    case unreadableFile(file: String, reason: String)
    /// A command-line argument is wrong: unknown flag, missing value, bad value,
    /// repeated flag or stray argument. Description: `<flag>: <reason>`.
    case badFlag(flag: String, reason: String)
    /// A setting cannot be used as given, whichever file or flag gave it (a TLS certificate
    /// OpenSSL refuses, keys that need each other). Description: `<key>: <reason>`.
    case unusableSetting(key: String, reason: String)

    /// `EX_USAGE` from sysexits(3).
    public static let exitUsage: Int32 = 64
    /// `EX_CONFIG` from sysexits(3).
    public static let exitConfig: Int32 = 78

    /// The process exit code this error calls for.
    public var exitCode: Int32 {
        switch self {
        case .badFlag: ConfigError.exitUsage
        case .badFileEntry, .unreadableFile, .unusableSetting: ConfigError.exitConfig
        }
    }

    public var description: String {
        let text: String
        switch self {
        case let .badFileEntry(file, line, key, reason):
            text = "\(file):\(line): \(key): \(reason)"
        case let .unreadableFile(file, reason):
            text = "\(file): \(reason)"
        case let .badFlag(flag, reason):
            text = "\(flag): \(reason)"
        case let .unusableSetting(key, reason):
            text = "\(key): \(reason)"
        }
        return ConfigText.oneLine(text)
    }
}

/// Small text helpers shared by the configuration code.
enum ConfigText {
    /// `text` with every control character escaped, so it fits on one line.
    static func oneLine(_ text: String) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                // C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
                if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029 {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// A user-supplied value quoted for an error message, shortened if huge.
    static func quoted(_ value: String) -> String {
        let limit = 80
        if value.count > limit {
            return "'\(value.prefix(limit))...'"
        }
        return "'\(value)'"
    }
}
