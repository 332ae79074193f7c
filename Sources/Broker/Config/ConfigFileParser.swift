/// Parses the text of a configuration file (`key value` lines, as in
/// redis.conf or mosquitto.conf). Pure: no I/O.
///
/// Format, and what it guarantees:
/// - One setting per line: a key, one or more spaces or tabs, a value.
/// - Leading and trailing spaces and tabs are ignored; so are blank lines.
/// - A line whose first non-blank character is `#` is a comment. Comments are
///   whole-line only: `port 7400 # note` is rejected (the value would be
///   ambiguous), with a reason saying so.
/// - A value may be wrapped in double quotes: `host "::1"`. Quotes are removed;
///   there are no escapes and a quoted value may not contain `"`.
/// - Lines may end in `\n` or `\r\n`.
/// - Unknown key, duplicate key, missing value or bad value stops parsing at
///   the first such line with `ConfigError.badFileEntry(file:line:key:reason:)`.
/// - Keys not in the text keep their value from `base`.
public enum ConfigFileParser {
    /// Returns `base` with every setting in `text` applied. `file` is used only
    /// for error messages.
    public static func parse(
        _ text: String, file: String, base: BrokerConfig = BrokerConfig()
    ) throws(ConfigError) -> BrokerConfig {
        var config = base
        var firstLine: [String: Int] = [:]
        var lineNumber = 0
        for rawLine in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            var bytes = Substring(decoding: rawLine, as: UTF8.self)
            if bytes.last == "\r" { bytes = bytes.dropLast() }
            let line = trimBlanks(bytes)
            if line.isEmpty || line.first == "#" { continue }

            let keyEnd = line.firstIndex(where: isBlank) ?? line.endIndex
            let name = String(line[..<keyEnd])
            let rest = trimBlanks(line[keyEnd...])

            func fail(_ reason: String) -> ConfigError {
                .badFileEntry(file: file, line: lineNumber, key: name, reason: reason)
            }
            guard let key = ConfigKey.named(name) else {
                throw fail(unknownKeyReason(name))
            }
            if let earlier = firstLine[name] {
                throw fail("duplicate key (first set on line \(earlier))")
            }
            firstLine[name] = lineNumber
            guard !rest.isEmpty else {
                throw fail("missing value")
            }
            let value: String
            switch unquote(rest) {
            case let .success(text): value = text
            case let .failure(invalid): throw fail(invalid.reason)
            }
            if let reason = key.apply(value, to: &config) {
                throw fail(reason)
            }
        }
        return config
    }

    static func isBlank(_ c: Character) -> Bool {
        c == " " || c == "\t"
    }

    static func trimBlanks(_ s: Substring) -> Substring {
        guard let start = s.firstIndex(where: { !isBlank($0) }),
              let last = s.lastIndex(where: { !isBlank($0) }) else {
            return s[s.endIndex...]
        }
        return s[start...last]
    }

    /// The value text with optional surrounding double quotes removed.
    static func unquote(_ rest: Substring) -> Result<String, InvalidValue> {
        if rest.first == "\"" {
            let inner = rest.dropFirst()
            guard let close = inner.firstIndex(of: "\"") else {
                return .failure(InvalidValue(reason: "unterminated quoted value \(ConfigText.quoted(String(rest)))"))
            }
            guard inner.index(after: close) == inner.endIndex else {
                return .failure(InvalidValue(
                    reason: "unexpected text after the closing quote in \(ConfigText.quoted(String(rest))); comments must be on their own line"))
            }
            return .success(String(inner[..<close]))
        }
        if rest.contains(where: isBlank) || rest.contains("\"") {
            return .failure(InvalidValue(
                reason: "expected one value, got \(ConfigText.quoted(String(rest))); comments must be on their own line and values with spaces are not allowed"))
        }
        return .success(String(rest))
    }

    static func unknownKeyReason(_ name: String) -> String {
        let guess = name.lowercased().map { $0 == "-" ? "_" : $0 }
        if let key = ConfigKey.named(String(guess)) {
            return "unknown key (did you mean '\(key.name)'?)"
        }
        return "unknown key"
    }
}
