// Reading an acl_file: `key value` lines, a `user` line opening each user's block.
// The fuzz build compiles the Protocol sources into the same module (scripts/fuzz.sh).
#if canImport(Protocol)
import Protocol
#endif

/// Parses the text of an `acl_file`. Reads only the `token_file`s it names.
///
/// Format (docs/security.md):
/// - `key value` lines as in `broker.conf`: blank lines and whole-line `#` comments ignored,
///   `\n` or `\r\n` endings.
/// - `user NAME` opens a user's block (a name of printable ASCII without spaces, at most 255
///   bytes, each name once); the keys after it, up to the next `user`, are that user's:
///   - `token_sha256 HEX`: the SHA-256 of its token, 64 hexadecimal digits (`printf %s TOKEN | sha256sum`);
///   - `token_file PATH`: a file holding its token (relative to the `acl_file`'s directory);
///   - `certificate on|off`: whether a verified client certificate whose common name is the
///     user's name logs it in (default off);
///   - `publish_allow`, `publish_deny`, `subscribe_allow`, `subscribe_deny`: patterns separated
///     by spaces, valid as `SUB` arguments; each key may repeat, adding patterns.
/// - Each user has exactly one of `token_sha256` and `token_file`, or `certificate on`, or both.
///
/// Every error names the file, the line and the key; none shows a token.
public enum AccessListParser {
    public static func parse(_ text: String, file: String, files: ConfigFileAccess = .live) throws(ConfigError) -> AccessList {
        var users: [String: UserGrant] = [:]
        var current: UserDraft?
        var lineNumber = 0
        func finish(_ draft: UserDraft?) throws(ConfigError) {
            guard let draft else { return }
            users[draft.name] = try draft.build(file: file, files: files)
        }
        for rawLine in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            var bytes = Substring(decoding: rawLine, as: UTF8.self)
            if bytes.last == "\r" { bytes = bytes.dropLast() }
            let line = ConfigFileParser.trimBlanks(bytes)
            if line.isEmpty || line.first == "#" { continue }
            let keyEnd = line.firstIndex(where: ConfigFileParser.isBlank) ?? line.endIndex
            let key = String(line[..<keyEnd])
            let value = ConfigFileParser.trimBlanks(line[keyEnd...])
            let here = lineNumber
            func fail(_ reason: String) -> ConfigError {
                .badFileEntry(file: file, line: here, key: key, reason: reason)
            }
            guard !value.isEmpty else { throw fail("missing value") }
            if key == "user" {
                let name = String(value)
                guard name.utf8.count <= 255, name.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
                    throw fail("expected a user name of printable ASCII without spaces, at most 255 bytes")
                }
                if users[name] != nil || current?.name == name {
                    throw fail("user \(name) is named twice")
                }
                try finish(current)
                current = UserDraft(name: name, line: lineNumber)
                continue
            }
            guard var draft = current else { throw fail("comes before any `user NAME` line") }
            switch key {
            case "token_sha256":
                guard draft.tokenDigest == nil, draft.tokenFile == nil else { throw fail("the user already has a token") }
                guard let digest = hexDigest(value) else { throw fail("expected 64 hexadecimal digits (the value is not shown)") }
                draft.tokenDigest = digest
            case "token_file":
                guard draft.tokenDigest == nil, draft.tokenFile == nil else { throw fail("the user already has a token") }
                draft.tokenFile = (String(value), lineNumber)
            case "certificate":
                switch value {
                case "on": draft.certificateLogin = true
                case "off": draft.certificateLogin = false
                default: throw fail("expected on or off, got \(ConfigText.quoted(String(value)))")
                }
            case "publish_allow", "publish_deny", "subscribe_allow", "subscribe_deny":
                var patterns: [RulePattern] = []
                for word in value.split(whereSeparator: ConfigFileParser.isBlank) {
                    guard let pattern = RulePattern(word.utf8) else {
                        throw fail("\(ConfigText.quoted(String(word))) is not a valid topic or pattern")
                    }
                    patterns.append(pattern)
                }
                switch key {
                case "publish_allow": draft.publish.allow += patterns
                case "publish_deny": draft.publish.deny += patterns
                case "subscribe_allow": draft.subscribe.allow += patterns
                default: draft.subscribe.deny += patterns
                }
            default:
                throw fail("unknown key; expected user, token_sha256, token_file, certificate, publish_allow, publish_deny, subscribe_allow or subscribe_deny")
            }
            current = draft
        }
        try finish(current)
        return AccessList(file: file, users: users)
    }

    /// 64 hexadecimal digits as 32 bytes.
    static func hexDigest(_ text: Substring) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        var index = 0
        while index < 64 {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// A user's lines read so far.
    private struct UserDraft {
        let name: String
        let line: Int
        var tokenDigest: [UInt8]?
        var tokenFile: (path: String, line: Int)?
        var certificateLogin = false
        var publish = TopicRule()
        var subscribe = TopicRule()

        func build(file: String, files: ConfigFileAccess) throws(ConfigError) -> UserGrant {
            var digest = tokenDigest
            if let tokenFile {
                let path = tokenFile.path.hasPrefix("/") ? tokenFile.path : AccessListParser.directory(of: file) + tokenFile.path
                let token: String
                do {
                    token = try files.readSecret(path, key: "token_file")
                } catch {
                    throw .badFileEntry(file: file, line: tokenFile.line, key: "token_file", reason: "cannot read \(path): \(error)")
                }
                guard !token.isEmpty, token.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
                    throw .badFileEntry(file: file, line: tokenFile.line, key: "token_file",
                                        reason: "\(path): expected one token of printable ASCII without spaces (the value is not shown)")
                }
                digest = SHA256.digest(of: token.utf8)
            }
            guard digest != nil || certificateLogin else {
                throw .badFileEntry(file: file, line: line, key: "user",
                                    reason: "user \(name) has no token_sha256, token_file or `certificate on`: nobody could log in as it")
            }
            return UserGrant(name: name, tokenDigest: digest, certificateLogin: certificateLogin, publish: publish, subscribe: subscribe)
        }
    }

    /// The directory part of `path`, with its final `/` (empty for a bare file name).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[...slash])
    }

    /// Reads and parses the `acl_file` that `config` names (nil when none is).
    public static func load(_ config: BrokerConfig, files: ConfigFileAccess = .live) throws(ConfigError) -> AccessList? {
        let path = config.aclFile
        guard !path.isEmpty else { return nil }
        switch files.read(path) {
        case let .failure(failure):
            throw .unreadableFile(file: path, reason: "acl_file: \(failure.reason)")
        case let .success(text):
            return try parse(text, file: path, files: files)
        }
    }
}
