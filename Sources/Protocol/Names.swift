// Topic and pattern rules (PROTOCOL.md, "Names"), matching one topic against one pattern,
// and the version 2 names: stream epochs and queue group names.

/// The naming rules for topics and subscription patterns, epochs and queue groups.
///
/// A topic is 1 to 255 bytes of printable ASCII (0x21–0x7E) split into non-empty
/// levels by dots. A pattern is a topic in which a level may be exactly `*` (any
/// one level) and the last level may be exactly `>` (one or more levels).
/// Topics whose first level starts with `$` are reserved for the broker.
/// An epoch is 1 to 32 characters of `[0-9a-z]`; a queue group name is 1 to 64
/// bytes of `[A-Za-z0-9_-]` (PROTOCOL.md, version 2).
/// Every function here works on bytes and allocates nothing.
///
/// The bytes with a meaning in names are constants here (``levelSeparator``,
/// ``singleLevelWildcard``, ``multiLevelWildcard``, ``reservedPrefix``); code that
/// looks at names uses them rather than their values.
public enum Names {
    /// The longest topic or pattern, in bytes.
    public static let maxLength = 255

    /// `.` (0x2E): separates the levels of a topic or pattern.
    public static let levelSeparator: UInt8 = 0x2E
    /// `*` (0x2A): a pattern level that is exactly this matches any one level.
    public static let singleLevelWildcard: UInt8 = 0x2A
    /// `>` (0x3E): a last pattern level that is exactly this matches one or more levels.
    public static let multiLevelWildcard: UInt8 = 0x3E
    /// `$` (0x24): a topic whose first level starts with it belongs to the broker.
    public static let reservedPrefix: UInt8 = 0x24

    /// Why a topic or pattern is invalid.
    public enum Violation: Error, Hashable, Sendable {
        case empty
        case tooLong
        case badByte
        case emptyLevel
        case wildcardInTopic
        case misplacedWildcard

        /// The free text of the `ERR bad-topic` reply.
        public var text: String {
            switch self {
            case .empty: "topic is empty"
            case .tooLong: "topic is longer than 255 bytes"
            case .badByte: "topic must be printable ASCII (0x21-0x7E)"
            case .emptyLevel: "topic has an empty level"
            case .wildcardInTopic: "wildcards are not allowed in a PUB topic"
            case .misplacedWildcard: "'*' must be a whole level and '>' a whole last level"
            }
        }
    }

    /// What each byte is in a name, by value: `o` an ordinary printable byte, `s` the
    /// level separator, `w` a wildcard, `b` a byte no name may hold (outside 0x21-0x7E).
    /// One load per byte instead of five comparisons (a topic is checked on every `PUB`).
    @usableFromInline
    static let byteKinds: StaticString = """
        bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbooooooooowooosooooooooooooooowoooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooob\
        bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
        """

    /// Checks a concrete topic (a `PUB` topic): no wildcard anywhere.
    @inlinable
    public static func validateTopic(_ topic: UnsafeRawBufferPointer) -> Violation? {
        let count = topic.count
        if count == 0 { return .empty }
        if count > maxLength { return .tooLong }
        let kinds = byteKinds.utf8Start
        var levelLength = 0
        for byte in topic {
            let kind = kinds[Int(byte)]
            if kind == UInt8(ascii: "o") {
                levelLength += 1
                continue
            }
            if kind == UInt8(ascii: "s") {
                if levelLength == 0 { return .emptyLevel }
                levelLength = 0
                continue
            }
            return kind == UInt8(ascii: "w") ? .wildcardInTopic : .badByte
        }
        return levelLength == 0 ? .emptyLevel : nil
    }

    /// Checks a `SUB`/`UNSUB` argument: a topic, or a pattern with `*` and `>` levels.
    public static func validatePattern(_ pattern: UnsafeRawBufferPointer) -> Violation? {
        let count = pattern.count
        if count == 0 { return .empty }
        if count > maxLength { return .tooLong }
        var levelStart = 0
        var index = 0
        while index <= count {
            if index == count || pattern[index] == levelSeparator {
                let length = index - levelStart
                if length == 0 { return .emptyLevel }
                // A wildcard byte must be the whole level; `>` only as the last level.
                for position in levelStart..<index {
                    let byte = pattern[position]
                    if byte == singleLevelWildcard || byte == multiLevelWildcard {
                        if length != 1 { return .misplacedWildcard }
                        if byte == multiLevelWildcard && index != count { return .misplacedWildcard }
                    }
                }
                levelStart = index + 1
            } else {
                let byte = pattern[index]
                if byte < ASCII.firstPrintable || byte > ASCII.lastPrintable { return .badByte }
            }
            index += 1
        }
        return nil
    }

    /// The longest stream epoch, in characters.
    public static let maxEpochLength = 32
    /// The longest queue group name, in bytes.
    public static let maxGroupNameLength = 64

    /// True when `epoch` is 1 to ``maxEpochLength`` characters of `[0-9a-z]`.
    @inlinable
    public static func isValidEpoch(_ epoch: some Collection<UInt8>) -> Bool {
        let count = epoch.count
        guard count > 0, count <= maxEpochLength else { return false }
        return epoch.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) }
    }

    /// True when `name` is 1 to ``maxGroupNameLength`` bytes of `[A-Za-z0-9_-]`.
    @inlinable
    public static func isValidGroupName(_ name: some Collection<UInt8>) -> Bool {
        let count = name.count
        guard count > 0, count <= maxGroupNameLength else { return false }
        return name.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x5F || byte == 0x2D
        }
    }

    /// True when the first level of `name` starts with `$` (the broker's own topics).
    @inlinable
    public static func isReserved(_ name: UnsafeRawBufferPointer) -> Bool {
        name.first == reservedPrefix
    }

    /// True when `pattern` contains a `*` or `>` level (it is not a plain topic).
    public static func hasWildcard(_ pattern: UnsafeRawBufferPointer) -> Bool {
        pattern.contains(singleLevelWildcard) || pattern.contains(multiLevelWildcard)
    }

    /// Whether a valid `pattern` matches a valid concrete `topic`.
    ///
    /// `*` matches exactly one level, a last `>` one or more levels. A pattern whose
    /// first level is `*` or `>` never matches a topic whose first level starts with `$`.
    public static func matches(pattern: UnsafeRawBufferPointer, topic: UnsafeRawBufferPointer) -> Bool {
        if isReserved(topic), let first = pattern.first, first == singleLevelWildcard || first == multiLevelWildcard {
            return false
        }
        var p = 0
        var t = 0
        let pc = pattern.count
        let tc = topic.count
        while p < pc {
            // The pattern level [p, pEnd).
            let pEnd = pattern.firstIndex(of: levelSeparator, from: p) ?? pc
            if t >= tc { return false }  // the topic has fewer levels
            let tEnd = topic.firstIndex(of: levelSeparator, from: t) ?? tc
            let isSingle = pEnd - p == 1
            if isSingle && pattern[p] == multiLevelWildcard {
                return true  // one or more levels remain (t < tc) — matched
            }
            if !(isSingle && pattern[p] == singleLevelWildcard) {
                if pEnd - p != tEnd - t { return false }
                var offset = 0
                while offset < pEnd - p {
                    if pattern[p + offset] != topic[t + offset] { return false }
                    offset += 1
                }
            }
            p = pEnd + 1
            t = tEnd + 1
        }
        return t >= tc  // every topic level consumed
    }
}
