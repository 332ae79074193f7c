// Reading RESP2 and RESP3 values from bytes that arrive in pieces, within limits.

/// What a reader's limits refused, or bytes that are not RESP.
public struct RESPError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong, for a log line.
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}

/// How much one value may hold; past any limit the reader throws instead of allocating.
public struct RESPLimits: Hashable, Sendable {
    /// The longest bulk string, verbatim string or bulk error, in bytes.
    public var maxBulkBytes: Int
    /// The most elements of one array, set or push (pairs of one map).
    public var maxElements: Int
    /// How deep aggregates may nest.
    public var maxDepth: Int
    /// The longest line of a simple value (`+`, `-`, `:`, `,`, `(`), CRLF excluded.
    public var maxLineBytes: Int

    public init(maxBulkBytes: Int = 64 << 20, maxElements: Int = 1 << 20, maxDepth: Int = 32, maxLineBytes: Int = 64 << 10) {
        self.maxBulkBytes = maxBulkBytes
        self.maxElements = maxElements
        self.maxDepth = maxDepth
        self.maxLineBytes = maxLineBytes
    }
}

/// The outcome of reading the front of a buffer.
public enum RESPReadResult: Hashable, Sendable {
    /// One whole value, which took the first `consumed` bytes.
    case value(RESPValue, consumed: Int)
    /// The value is not whole yet: read again once the buffer holds at least
    /// `needAtLeast` bytes (a lower bound, so that a large value arriving in many
    /// pieces is not parsed again for every piece).
    case incomplete(needAtLeast: Int)
}

/// Reads RESP values from the front of a buffer.
///
/// Guarantees: whatever the bytes, it returns a value, asks for more, or throws
/// ``RESPError``; it never traps, and never allocates more than the limits allow for
/// one value (a length is checked before anything is reserved for it). Pure: it
/// keeps no state between calls; the caller keeps the unread bytes.
public enum RESPReader {
    /// Reads the value at the front of `bytes`.
    public static func read(_ bytes: UnsafeRawBufferPointer, limits: RESPLimits = RESPLimits()) throws(RESPError) -> RESPReadResult {
        var cursor = Cursor(bytes: bytes, limits: limits)
        guard let value = try cursor.value(depth: 0) else { return .incomplete(needAtLeast: cursor.needAtLeast) }
        return .value(value, consumed: cursor.position)
    }

    /// ``read(_:limits:)`` over an array.
    public static func read(_ bytes: [UInt8], limits: RESPLimits = RESPLimits()) throws(RESPError) -> RESPReadResult {
        let result: Result<RESPReadResult, RESPError> = bytes.withUnsafeBytes { raw in
            Result { () throws(RESPError) in try read(raw, limits: limits) }
        }
        return try result.get()
    }

    /// A position in the buffer; nil from a reading method means "not whole yet",
    /// with `needAtLeast` saying how many bytes are known to be needed.
    private struct Cursor {
        let bytes: UnsafeRawBufferPointer
        let limits: RESPLimits
        var position = 0
        var needAtLeast = 0

        init(bytes: UnsafeRawBufferPointer, limits: RESPLimits) {
            self.bytes = bytes
            self.limits = limits
        }

        mutating func value(depth: Int) throws(RESPError) -> RESPValue? {
            guard position < bytes.count else { return more(position + 1) }
            let kind = bytes[position]
            position += 1
            switch kind {
            case UInt8(ascii: "+"): return try line().map { .simpleString(Array($0)) }
            case UInt8(ascii: "-"): return try line().map { .error(Array($0)) }
            case UInt8(ascii: ":"):
                guard let text = try line() else { return nil }
                guard let number = RESPReader.integer(text) else { throw RESPError("an integer that is not one: \(show(text))") }
                return .integer(number)
            case UInt8(ascii: "$"):
                switch try bulk(allowingNull: true) {
                case .incomplete: return nil
                case .null: return .null
                case let .bytes(body): return .bulkString(Array(body))
                }
            case UInt8(ascii: "!"):
                guard case let .bytes(body) = try bulk(allowingNull: false) else { return nil }
                return .error(Array(body))
            case UInt8(ascii: "="):
                guard case let .bytes(text) = try bulk(allowingNull: false) else { return nil }
                guard text.count >= 4, text[3] == UInt8(ascii: ":") else {
                    throw RESPError("a verbatim string without its format: \(show(text))")
                }
                return .verbatim(format: Array(text[0..<3]), text: Array(text[4...]))
            case UInt8(ascii: "_"):
                guard let text = try line() else { return nil }
                guard text.isEmpty else { throw RESPError("a null with something after it") }
                return .null
            case UInt8(ascii: "#"):
                guard let text = try line() else { return nil }
                guard text.count == 1, text[0] == UInt8(ascii: "t") || text[0] == UInt8(ascii: "f") else {
                    throw RESPError("a boolean that is neither t nor f: \(show(text))")
                }
                return .boolean(text[0] == UInt8(ascii: "t"))
            case UInt8(ascii: ","): return try line().map { .double(Array($0)) }
            case UInt8(ascii: "("): return try line().map { .bigNumber(Array($0)) }
            case UInt8(ascii: "*"):
                guard let count = try length(allowingNull: true) else { return nil }
                guard count >= 0 else { return .null }
                return try elements(count, depth: depth).map { .array($0) }
            case UInt8(ascii: "~"):
                guard let count = try length(allowingNull: false) else { return nil }
                return try elements(count, depth: depth).map { .set($0) }
            case UInt8(ascii: ">"):
                guard let count = try length(allowingNull: false) else { return nil }
                return try elements(count, depth: depth).map { .push($0) }
            case UInt8(ascii: "%"):
                guard let count = try length(allowingNull: false) else { return nil }
                guard let flat = try elements(count, pairs: true, depth: depth) else { return nil }
                return .map(stride(from: 0, to: flat.count, by: 2).map { RESPPair(key: flat[$0], value: flat[$0 + 1]) })
            case UInt8(ascii: "|"):
                // An attribute: a map about the value that follows; read and dropped.
                guard let count = try length(allowingNull: false) else { return nil }
                guard try elements(count, pairs: true, depth: depth) != nil else { return nil }
                guard depth < limits.maxDepth else { throw RESPError("attributes chained more than \(limits.maxDepth) deep") }
                return try value(depth: depth + 1)
            default:
                throw RESPError("a value that begins with byte \(kind)")
            }
        }

        /// The bytes up to the next CRLF (which is consumed); nil when no LF came yet.
        mutating func line() throws(RESPError) -> UnsafeRawBufferPointer? {
            var index = position
            let end = min(bytes.count, position + limits.maxLineBytes + 2)
            while index < end && bytes[index] != 0x0A { index += 1 }
            if index == end {
                if end < bytes.count || end - position >= limits.maxLineBytes + 2 {
                    throw RESPError("a line longer than \(limits.maxLineBytes) bytes")
                }
                return more(end + 1)
            }
            guard index > position, bytes[index - 1] == 0x0D else { throw RESPError("a line that ends in LF without CR") }
            let text = UnsafeRawBufferPointer(rebasing: bytes[position..<(index - 1)])
            position = index + 1
            return text
        }

        /// A length line: -1 (null, where allowed) or 0 and more.
        mutating func length(allowingNull: Bool) throws(RESPError) -> Int? {
            guard let text = try line() else { return nil }
            guard let number = RESPReader.integer(text), number >= (allowingNull ? -1 : 0), number <= Int64(Int.max) else {
                throw RESPError("a length that is not one: \(show(text))")
            }
            return Int(number)
        }

        /// What a bulk length and body read to.
        enum Bulk {
            /// Not whole yet (`needAtLeast` says how much more is needed).
            case incomplete
            /// The null length -1 (only where allowed).
            case null
            case bytes(UnsafeRawBufferPointer)
        }

        /// A bulk length, then its body and CRLF.
        mutating func bulk(allowingNull: Bool) throws(RESPError) -> Bulk {
            guard let count = try length(allowingNull: allowingNull) else { return .incomplete }
            if count < 0 { return .null }
            guard count <= limits.maxBulkBytes else {
                throw RESPError("a string of \(count) bytes (at most \(limits.maxBulkBytes))")
            }
            let end = position + count
            guard end + 2 <= bytes.count else {
                needAtLeast = max(needAtLeast, end + 2)
                return .incomplete
            }
            guard bytes[end] == 0x0D, bytes[end + 1] == 0x0A else { throw RESPError("a string not followed by CRLF") }
            let body = UnsafeRawBufferPointer(rebasing: bytes[position..<end])
            position = end + 2
            return .bytes(body)
        }

        /// `count` values (twice as many for pairs), one level deeper.
        mutating func elements(_ count: Int, pairs: Bool = false, depth: Int) throws(RESPError) -> [RESPValue]? {
            guard count <= limits.maxElements else {
                throw RESPError("an aggregate of \(count) elements (at most \(limits.maxElements))")
            }
            guard depth < limits.maxDepth else { throw RESPError("aggregates nested more than \(limits.maxDepth) deep") }
            let total = pairs ? count * 2 : count
            // Each element takes at least 3 bytes: reserve for no more than the buffer could hold.
            var values: [RESPValue] = []
            values.reserveCapacity(min(total, max(0, (bytes.count - position) / 3)))
            for _ in 0..<total {
                guard let element = try value(depth: depth + 1) else { return nil }
                values.append(element)
            }
            return values
        }

        /// Not whole yet: at least `count` bytes are needed.
        mutating func more<T>(_ count: Int) -> T? {
            needAtLeast = max(needAtLeast, count)
            return nil
        }

        func show(_ text: UnsafeRawBufferPointer) -> String {
            String(decoding: text.prefix(40), as: UTF8.self)
        }
    }

    /// A signed decimal of at most 19 digits that fits in Int64, or nil.
    static func integer(_ text: UnsafeRawBufferPointer) -> Int64? {
        var index = 0
        var negative = false
        if let first = text.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            index = 1
        }
        guard index < text.count, text.count - index <= 19 else { return nil }
        var magnitude: UInt64 = 0
        while index < text.count {
            let digit = text[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            magnitude = magnitude * 10 + UInt64(digit)  // 19 digits cannot overflow UInt64
            index += 1
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }
}
