// One value of Redis's serialization protocol, RESP2 and RESP3 alike.

/// A reply (or a push) as Redis sends it.
///
/// RESP2 has the first five kinds and its two nulls (`$-1`, `*-1`), both read as
/// ``null``; RESP3 adds the rest. Strings are bytes: Redis strings are binary.
/// A RESP3 attribute (`|`) is read and dropped: the value it annotates is what the
/// reader returns. A double and a big number keep their text, exactly as sent.
public indirect enum RESPValue: Hashable, Sendable {
    /// `+text`: a status such as `OK` or `PONG`.
    case simpleString([UInt8])
    /// `-CODE text` (and RESP3's bulk error `!`): the command failed.
    case error([UInt8])
    /// `:n`, a signed 64-bit integer.
    case integer(Int64)
    /// `$n` then n bytes: a binary-safe string.
    case bulkString([UInt8])
    /// `$-1`, `*-1` (RESP2) or `_` (RESP3): no value.
    case null
    /// `*n` then n values.
    case array([RESPValue])
    /// `#t` or `#f` (RESP3).
    case boolean(Bool)
    /// `,text` (RESP3): a double, as its text (`1.5`, `inf`, `-nan`).
    case double([UInt8])
    /// `(text` (RESP3): an integer of any size, as its digits.
    case bigNumber([UInt8])
    /// `=n` then `fmt:text` (RESP3): a string with a three-letter format.
    case verbatim(format: [UInt8], text: [UInt8])
    /// `%n` then n key-value pairs (RESP3), in the order sent.
    case map([RESPPair])
    /// `~n` then n values (RESP3).
    case set([RESPValue])
    /// `>n` then n values (RESP3): an out-of-band message such as a pub/sub delivery.
    case push([RESPValue])

    /// The bytes of a simple or bulk string (or a verbatim one's text); nil for other kinds.
    public var bytes: [UInt8]? {
        switch self {
        case let .simpleString(bytes), let .bulkString(bytes): bytes
        case let .verbatim(_, text): text
        default: nil
        }
    }

    /// The string's bytes as UTF-8 text (invalid sequences repaired); nil for other kinds.
    public var text: String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

    /// The elements of an array, set or push; nil for other kinds.
    public var elements: [RESPValue]? {
        switch self {
        case let .array(values), let .set(values), let .push(values): values
        default: nil
        }
    }

    /// The error's text (`ERR unknown command ...`) when this is an error.
    public var errorText: String? {
        if case let .error(bytes) = self { return String(decoding: bytes, as: UTF8.self) }
        return nil
    }
}

/// One key-value pair of a RESP3 map.
public struct RESPPair: Hashable, Sendable {
    public var key: RESPValue
    public var value: RESPValue

    public init(key: RESPValue, value: RESPValue) {
        self.key = key
        self.value = value
    }
}
