// The `engine` key: where topics are kept and publishes ordered (this process, or Redis).

/// Where the broker keeps its topics (the `engine` key).
///
/// Guarantees: ``parse(_:)`` accepts exactly `local` and `redis://HOST[:PORT][/DB]` (HOST an
/// IPv4 literal, a bracketed IPv6 literal or a DNS name; PORT 1 to 65535, default 6379; DB 0 to
/// 65535, default 0), and ``description`` renders a value so that it parses back to itself.
public enum EngineSetting: Sendable, Equatable, CustomStringConvertible {
    /// Topics in this process (``LocalTopicStore``): a broker on its own.
    case local
    /// Topics ordered and held by a Redis server, shared by every broker pointed at it.
    case redis(host: String, port: Int, database: Int)

    public var description: String {
        switch self {
        case .local: "local"
        case let .redis(host, port, database):
            "redis://" + (host.contains(":") ? "[\(host)]" : host) + ":\(port)" + (database == 0 ? "" : "/\(database)")
        }
    }

    /// The value of an `engine` line.
    static func parse(_ text: String) -> Result<EngineSetting, InvalidValue> {
        let failure = InvalidValue(reason: "expected local or redis://HOST[:PORT][/DB], got \(ConfigText.quoted(text))")
        if text == "local" { return .success(.local) }
        guard text.hasPrefix("redis://") else { return .failure(failure) }
        var rest = Substring(text.dropFirst("redis://".count))
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            guard case let .success(number) = ValueParsers.integer(String(rest[rest.index(after: slash)...]), in: 0...65535) else {
                return .failure(failure)
            }
            database = number
            rest = rest[..<slash]
        }
        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return .failure(failure) }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return .failure(failure) }
                portText = after.dropFirst()
            }
            guard case .success = ValueParsers.ipLiteral(String(host)), host.contains(":") else { return .failure(failure) }
        } else {
            if let colon = rest.firstIndex(of: ":") {
                host = rest[..<colon]
                portText = rest[rest.index(after: colon)...]
            } else {
                host = rest
            }
            guard EngineSetting.isHostName(host) else { return .failure(failure) }
        }
        var port = 6379
        if let portText {
            guard case let .success(number) = ValueParsers.integer(String(portText), in: 1...65535) else { return .failure(failure) }
            port = number
        }
        return .success(.redis(host: String(host), port: port, database: database))
    }

    /// An IPv4 literal or a DNS name: 1 to 253 bytes of letters, digits, dots and dashes.
    private static func isHostName(_ host: Substring) -> Bool {
        !host.isEmpty && host.utf8.count <= 253 && host.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
        }
    }
}
