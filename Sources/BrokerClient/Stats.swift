// The STATS extension: the broker's figures as ordered key=value fields, and the commands that ask for them.
import Protocol

/// The reply of `STATS` or `STATS <topic>`: `key=value` fields in the broker's order.
///
/// Values are kept as the broker sent them; ``counter(_:)`` reads one as a number.
/// Keys this client does not know are kept too, so a newer broker's figures show.
///
/// ```swift
/// let stats = try connection.stats()
/// let published = stats.counter("published_total") ?? 0
/// ```
public struct BrokerStats: Hashable, Sendable {
    /// One `key=value` field.
    public struct Field: Hashable, Sendable {
        /// The key, e.g. `published_total`.
        public var key: String
        /// The value as sent, e.g. `1200` or `0.1.0`.
        public var value: String

        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    /// The fields, in the order the broker sent them.
    public var fields: [Field]

    public init(fields: [Field]) { self.fields = fields }

    /// Parses `key=value key=value ...` (the text after `OK`, or a `$SYS.stats` payload).
    /// Nil when a word has no `=` or an empty key.
    public init?(parsing text: some StringProtocol) {
        var fields: [Field] = []
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            guard let equals = word.firstIndex(of: "="), equals != word.startIndex else { return nil }
            fields.append(Field(key: String(word[..<equals]), value: String(word[word.index(after: equals)...])))
        }
        self.fields = fields
    }

    /// The value of `key` as sent, nil when absent.
    public subscript(key: String) -> String? {
        fields.first { $0.key == key }?.value
    }

    /// The value of `key` as an unsigned number, nil when absent or not a number.
    public func counter(_ key: String) -> UInt64? {
        self[key].flatMap { UInt64($0) }
    }
}

extension BrokerConnection {
    /// Sends `STATS` (or `STATS <topic>` for one topic) and returns the figures.
    ///
    /// Throws ``BrokerClientError/refused(_:)`` for `ERR` (`no-such-topic`, `bad-topic`,
    /// or `unknown-command` from a broker without the extension).
    public func stats(topic: String? = nil) throws(BrokerClientError) -> BrokerStats {
        var line: [UInt8] = []
        WireEncoder.appendStats(topic.map { Array($0.utf8) }, to: &line)
        let rest = try request(line) ?? []
        guard let stats = BrokerStats(parsing: String(decoding: rest, as: UTF8.self)) else {
            throw .protocolViolation("STATS reply 'OK \(String(decoding: rest, as: UTF8.self))'")
        }
        return stats
    }
}
