// The options of a version 2 SUB (`from=`, `last=`, `group=`) and their parsing (PROTOCOL.md, "SUB options").

/// What a version 2 `SUB <topic-or-pattern> [<option> ...]` asks beyond the subscription.
///
/// Guarantees: options that ``CommandParser`` produced obey PROTOCOL.md: ``from`` and
/// ``last`` are never both set, and neither is set for a pattern; ``last`` is at least 1;
/// ``from`` has a valid epoch; ``group`` is a valid name (``Names/isValidGroupName(_:)``).
/// Values built by hand are not checked, and ``WireEncoder`` writes them as they are.
/// A value type (SUB is not a hot path, so it owns its bytes): any thread.
public struct SubscribeOptions: Hashable, Sendable {
    /// `from=<epoch>:<seq>`: resume after this position of the topic's stream.
    public var from: StreamPosition?
    /// `last=<n>`: first the last `n` messages the stream holds.
    public var last: UInt64?
    /// `group=<name>`: join the queue group of that name for this string.
    public var group: [UInt8]?

    public init(from: StreamPosition? = nil, last: UInt64? = nil, group: [UInt8]? = nil) {
        self.from = from
        self.last = last
        self.group = group
    }

    /// No option: a plain `SUB`.
    public static let none = SubscribeOptions()

    /// True when no option is set.
    public var isEmpty: Bool { from == nil && last == nil && group == nil }
}

extension SubscribeOptions {
    /// The option keys, as written on the wire (lower case).
    static let fromKey: StaticString = "from"
    static let lastKey: StaticString = "last"
    static let groupKey: StaticString = "group"

    /// Parses the option tokens that follow the topic or pattern of a version 2 `SUB`
    /// (the text after its space): each token `<key>=<value>`, one space apart. Every
    /// refusal is `bad-arguments`.
    static func parse(_ text: UnsafeRawBufferPointer, isPattern: Bool) throws(ProtocolError) -> SubscribeOptions {
        var options = SubscribeOptions()
        var start = 0
        while true {
            let end = text.firstIndex(of: ASCII.space, from: start) ?? text.count
            try options.take(text.slice(start..<end))
            if end == text.count { break }
            start = end + 1
        }
        if options.from != nil && options.last != nil {
            throw ProtocolError(.badArguments, "from= and last= exclude each other")
        }
        if isPattern && (options.from != nil || options.last != nil) {
            throw ProtocolError(.badArguments, "from= and last= need a concrete topic, not a pattern")
        }
        return options
    }

    /// Parses one `<key>=<value>` token into `self`.
    private mutating func take(_ token: UnsafeRawBufferPointer) throws(ProtocolError) {
        guard let equals = token.firstIndex(of: SubscribeOptions.equalsSign, from: 0) else {
            throw ProtocolError(.badArguments, "an option is one key=value token")
        }
        let key = token.slice(0..<equals)
        let value = token.slice((equals + 1)..<token.count)
        if SubscribeOptions.isKey(key, SubscribeOptions.fromKey) {
            guard from == nil else { throw SubscribeOptions.twice }
            guard let position = StreamPosition(parsing: value) else {
                throw ProtocolError(.badArguments, "from= takes <epoch>:<seq>")
            }
            from = position
        } else if SubscribeOptions.isKey(key, SubscribeOptions.lastKey) {
            guard last == nil else { throw SubscribeOptions.twice }
            guard let count = Decimal.parse(value), count >= 1 else {
                throw ProtocolError(.badArguments, "last= takes a number of at least 1")
            }
            last = count
        } else if SubscribeOptions.isKey(key, SubscribeOptions.groupKey) {
            guard group == nil else { throw SubscribeOptions.twice }
            group = try SubscribeOptions.groupName(value)
        } else {
            throw ProtocolError(.badArguments, "unknown option (from=, last= and group= are known)")
        }
    }

    /// A valid queue group name, copied; `bad-arguments` otherwise.
    static func groupName(_ value: UnsafeRawBufferPointer) throws(ProtocolError) -> [UInt8] {
        guard Names.isValidGroupName(value) else {
            throw ProtocolError(.badArguments, "group= takes 1 to 64 bytes of A-Z, a-z, 0-9, '_' and '-'")
        }
        return Array(value)
    }

    /// `=` (0x3D): separates an option's key from its value.
    static let equalsSign: UInt8 = 0x3D

    private static let twice = ProtocolError(.badArguments, "an option is given twice")

    /// True when `bytes` is exactly `key` (case-sensitive: keys are lower case).
    static func isKey(_ bytes: UnsafeRawBufferPointer, _ key: StaticString) -> Bool {
        guard bytes.count == key.utf8CodeUnitCount else { return false }
        let expected = UnsafeRawBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount)
        return bytes.elementsEqual(expected)
    }
}
