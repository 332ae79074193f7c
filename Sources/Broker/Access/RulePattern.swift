// A pattern of an acl_file rule, and how two patterns relate: does one cover the other, can they both match one topic.
// The fuzz build compiles the Protocol sources into the same module (scripts/fuzz.sh).
#if canImport(Protocol)
import Protocol
#endif

/// A topic or pattern of an `acl_file` rule (`publish_allow orders.>`), split into levels.
///
/// Guarantees (PROTOCOL.md, "Names"): `*` matches one level, a last `>` one or more; a pattern
/// whose first level is a wildcard matches no topic starting with `$`. ``covers(_:)`` and
/// ``overlaps(_:)`` follow exactly those rules (a test checks them against every topic of a
/// small universe); they decide whether a subscription pattern is inside a grant, and whether
/// it could match a denied topic.
public struct RulePattern: Sendable, Equatable, CustomStringConvertible {
    /// One level.
    enum Level: Sendable, Equatable {
        case literal([UInt8])
        /// `*`: any one level.
        case one
        /// `>` (last): one or more levels.
        case rest
    }

    /// The pattern's bytes, as written.
    public let bytes: [UInt8]
    let levels: [Level]

    /// The pattern of `text`, or nil when it breaks the rules for a `SUB` argument.
    public init?(_ text: some Collection<UInt8>) {
        let bytes = Array(text)
        let valid = bytes.withUnsafeBytes { Names.validatePattern($0) == nil }
        guard valid else { return nil }
        self.bytes = bytes
        levels = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).map { level in
            if level.count == 1 && level.first == UInt8(ascii: "*") { return .one }
            if level.count == 1 && level.first == UInt8(ascii: ">") { return .rest }
            return .literal(Array(level))
        }
    }

    public var description: String { String(decoding: bytes, as: UTF8.self) }

    /// Whether its first level is a literal starting with `$` (it names the broker's topics).
    var isReserved: Bool { bytes.first == UInt8(ascii: "$") }

    /// Whether its first level is `*` or `>` (it matches no `$` topic).
    private var startsWithWildcard: Bool {
        switch levels.first {
        case .one, .rest: true
        default: false
        }
    }

    /// Whether it matches the concrete `topic`.
    func matches(topic: UnsafeRawBufferPointer) -> Bool {
        bytes.withUnsafeBytes { Names.matches(pattern: $0, topic: topic) }
    }

    /// Whether every topic `other` matches, this matches too.
    func covers(_ other: RulePattern) -> Bool {
        if other.isReserved && startsWithWildcard { return false }
        var index = 0
        while true {
            if index == levels.count { return index == other.levels.count }
            if levels[index] == .rest { return index < other.levels.count }
            if index == other.levels.count { return false }
            switch (levels[index], other.levels[index]) {
            case (.one, .literal), (.one, .one): break
            case let (.literal(mine), .literal(theirs)) where mine == theirs: break
            default: return false  // `*` against `>`, a literal against a wildcard, different literals
            }
            index += 1
        }
    }

    /// Whether some topic is matched by both patterns.
    func overlaps(_ other: RulePattern) -> Bool {
        if (isReserved && other.startsWithWildcard) || (other.isReserved && startsWithWildcard) { return false }
        var index = 0
        while true {
            let mineEnded = index == levels.count
            let theirsEnded = index == other.levels.count
            if mineEnded || theirsEnded { return mineEnded && theirsEnded }
            // `>` takes one or more levels: whatever non-empty rest the other has.
            if levels[index] == .rest || other.levels[index] == .rest { return true }
            if case let .literal(mine) = levels[index], case let .literal(theirs) = other.levels[index], mine != theirs {
                return false
            }
            index += 1
        }
    }
}

/// What a user may do with one kind of command (`publish_*` or `subscribe_*` lines), with NATS's
/// rules: with no allow pattern everything is allowed but what a deny pattern names; with allow
/// patterns, only what they name; a deny always wins.
public struct TopicRule: Sendable, Equatable {
    public var allow: [RulePattern] = []
    public var deny: [RulePattern] = []

    public init(allow: [RulePattern] = [], deny: [RulePattern] = []) {
        self.allow = allow
        self.deny = deny
    }

    /// Whether a `PUB`/`BPUB` to the concrete `topic` is allowed.
    func permits(topic: UnsafeRawBufferPointer) -> Bool {
        if !allow.isEmpty && !allow.contains(where: { $0.matches(topic: topic) }) { return false }
        return !deny.contains { $0.matches(topic: topic) }
    }

    /// Whether a `SUB` to `pattern` is allowed: every topic it can match is allowed (an allow
    /// pattern covers it; `$` topics only through an allow pattern naming `$`), and none is denied.
    func permits(subscription pattern: RulePattern) -> Bool {
        let allowed = allow.isEmpty ? !pattern.isReserved : allow.contains { $0.covers(pattern) }
        return allowed && !deny.contains { $0.overlaps(pattern) }
    }
}
