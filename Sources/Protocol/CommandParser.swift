// Parsing one client line into a command, with the spec's error codes, in version 1 or 2.

/// Parses client lines exactly as PROTOCOL.md says, for a connection of version 1 or 2.
///
/// - Verbs are case-insensitive; an unknown verb is `unknown-command` whatever follows.
/// - Arguments are the text after the verb split at each single space; for `PUB`
///   only the topic is split off and the rest, spaces kept, is the payload.
/// - Version 1: the argument count is checked before the topic (`bad-arguments`, then
///   `bad-topic`, then `reserved-topic`); `SUB` and `UNSUB` take exactly one argument.
/// - Version 2: `SUB` takes options and `UNSUB` a group; the topic or pattern is checked
///   first, then the options (all `bad-arguments`), then their combination.
/// - `HELLO` and `BPUB` are parsed in both versions. A `BPUB` whose size can be read is
///   never thrown: a bad topic comes back as its ``TopicRefusal``, because the payload must be
///   taken off the wire before the reply. A `BPUB` whose size cannot be read throws
///   `bad-arguments` with ``ProtocolError/losesFraming`` set.
///
/// The input is one line as ``LineFramer`` delivers it: no LF, no trailing CR of
/// the line ending. Parsing allocates nothing on success except for `SUB` (see
/// ``CommandView``) and the group of a version 2 `UNSUB`. Any thread.
public enum CommandParser {
    /// Parses one line of a connection speaking `version` (2 for version 2; anything
    /// else parses as version 1). The returned view points into `line`.
    public static func parse(_ line: UnsafeRawBufferPointer, version: Int = 1) throws(ProtocolError) -> CommandView {
        let verbEnd = line.firstIndex(of: ASCII.space, from: 0) ?? line.count
        let verb = Verb(line.slice(0..<verbEnd))
        // The text after the verb and its space; nil when the line is the verb alone.
        let rest: UnsafeRawBufferPointer? = verbEnd < line.count ? line.slice((verbEnd + 1)..<line.count) : nil
        switch verb {
        case .pub:
            return try parsePublish(rest)
        case .bpub:
            return try parseBinaryPublish(rest)
        case .sub:
            if version == 2 { return try parseSubscribe(rest) }
            return .subscribe(pattern: try parsePatternArgument(rest, verb: "SUB"), options: .none)
        case .unsub:
            if version == 2 { return try parseUnsubscribe(rest) }
            return .unsubscribe(pattern: try parsePatternArgument(rest, verb: "UNSUB"), group: nil)
        case .hello:
            return .hello(version: try parseHello(rest))
        case .ping:
            guard let rest else { return .ping(token: nil) }
            if rest.firstIndex(of: ASCII.space, from: 0) != nil {
                throw ProtocolError(.badArguments, "PING takes at most one token")
            }
            if rest.last == ASCII.cr {
                // Its PONG would end in CR, which a reader takes for part of the line ending.
                throw ProtocolError(.badArguments, "a token may not end with CR")
            }
            return .ping(token: rest.isEmpty ? nil : rest)
        case .quit:
            if rest != nil { throw ProtocolError(.badArguments, "QUIT takes no argument") }
            return .quit
        case .stats:
            guard let rest else { return .stats(topic: nil) }
            if rest.firstIndex(of: ASCII.space, from: 0) != nil {
                throw ProtocolError(.badArguments, "STATS takes at most one topic")
            }
            if let violation = Names.validateTopic(rest) { throw ProtocolError(.badTopic, violation.text) }
            return .stats(topic: rest)
        case .auth:
            // `AUTH <token>`, or `AUTH <user> <token>` (acl_file users): non-empty, no spaces.
            guard let rest, !rest.isEmpty else { throw ProtocolError(.badArguments, "AUTH takes a token, or a user and a token") }
            guard let space = rest.firstIndex(of: ASCII.space, from: 0) else { return .auth(user: nil, token: rest) }
            let user = UnsafeRawBufferPointer(rebasing: rest[0..<space])
            let token = UnsafeRawBufferPointer(rebasing: rest[(space + 1)...])
            guard !user.isEmpty, !token.isEmpty, token.firstIndex(of: ASCII.space, from: 0) == nil else {
                throw ProtocolError(.badArguments, "AUTH takes a token, or a user and a token")
            }
            return .auth(user: user, token: token)
        case .unknown:
            throw ProtocolError(.unknownCommand, "unknown command")
        }
    }

    /// Parses the bytes of a line held in an array (convenience for tests and tools).
    /// A `BPUB` line holds no payload, so it comes back with an empty one; its refusal,
    /// if it has one, is thrown.
    public static func parse(_ line: [UInt8], version: Int = 1) throws(ProtocolError) -> Command {
        let result = line.withUnsafeBytes { bytes in
            Result { () throws(ProtocolError) in
                let view = try parse(bytes, version: version)
                if case let .binaryPublish(_, _, refusal?) = view { throw refusal.error }
                return Command(view)
            }
        }
        return try result.get()
    }

    /// The refusal of a client publish to a broker topic.
    static let reserved = ProtocolError(.reservedTopic, "topics starting with '$' belong to the broker")

    private static func parsePublish(_ rest: UnsafeRawBufferPointer?) throws(ProtocolError) -> CommandView {
        guard let rest, let space = rest.firstIndex(of: ASCII.space, from: 0) else {
            throw ProtocolError(.badArguments, "PUB needs a topic, a space and a payload")
        }
        let topic = rest.slice(0..<space)
        let payload = rest.slice((space + 1)..<rest.count)
        if let violation = Names.validateTopic(topic) {
            throw ProtocolError(.badTopic, violation.text)
        }
        if Names.isReserved(topic) {
            throw reserved
        }
        if payload.last == ASCII.cr {
            throw ProtocolError(.badArguments, "a payload may not end with CR")
        }
        return .publish(topic: topic, payload: payload)
    }

    /// `BPUB <topic> <size>`: the framing (two arguments, a readable size) first, then the topic.
    private static func parseBinaryPublish(_ rest: UnsafeRawBufferPointer?) throws(ProtocolError) -> CommandView {
        guard let rest, let space = rest.firstIndex(of: ASCII.space, from: 0),
              rest.firstIndex(of: ASCII.space, from: space + 1) == nil else {
            throw ProtocolError(.badArguments, "BPUB takes a topic and a size", losesFraming: true)
        }
        let topic = rest.slice(0..<space)
        guard let size = Decimal.parseSaturating(rest.slice((space + 1)..<rest.count)) else {
            throw ProtocolError(.badArguments, "a BPUB size is 1 to 20 decimal digits", losesFraming: true)
        }
        var refusal: TopicRefusal?
        if let violation = Names.validateTopic(topic) {
            refusal = .badTopic(violation)
        } else if Names.isReserved(topic) {
            refusal = .reservedTopic
        }
        return .binaryPublish(topic: topic, size: size, refusal: refusal)
    }

    /// `HELLO <version>`: exactly one argument, which is `1` or `2`.
    private static func parseHello(_ rest: UnsafeRawBufferPointer?) throws(ProtocolError) -> Int {
        guard let rest, !rest.isEmpty, rest.firstIndex(of: ASCII.space, from: 0) == nil else {
            throw ProtocolError(.badArguments, "HELLO takes one version")
        }
        if rest.count == 1 && rest[0] == ASCII.zero + 1 { return 1 }
        if rest.count == 1 && rest[0] == ASCII.zero + 2 { return 2 }
        throw ProtocolError(.unsupportedVersion, "this broker speaks versions 1 and 2")
    }

    /// Version 1 `SUB`/`UNSUB`: exactly one argument, a valid topic or pattern.
    private static func parsePatternArgument(
        _ rest: UnsafeRawBufferPointer?, verb: StaticString
    ) throws(ProtocolError) -> UnsafeRawBufferPointer {
        guard let rest else { throw ProtocolError(.badArguments, "\(verb) needs one topic or pattern") }
        if rest.firstIndex(of: ASCII.space, from: 0) != nil {
            throw ProtocolError(.badArguments, "\(verb) takes exactly one topic or pattern")
        }
        if let violation = Names.validatePattern(rest) {
            throw ProtocolError(.badTopic, violation.text)
        }
        return rest
    }

    /// Version 2: the topic or pattern (checked first), then the text after its space, if any.
    private static func splitPattern(
        _ rest: UnsafeRawBufferPointer?, verb: StaticString
    ) throws(ProtocolError) -> (pattern: UnsafeRawBufferPointer, options: UnsafeRawBufferPointer?) {
        guard let rest else { throw ProtocolError(.badArguments, "\(verb) needs one topic or pattern") }
        let end = rest.firstIndex(of: ASCII.space, from: 0) ?? rest.count
        let pattern = rest.slice(0..<end)
        if let violation = Names.validatePattern(pattern) {
            throw ProtocolError(.badTopic, violation.text)
        }
        return (pattern, end < rest.count ? rest.slice((end + 1)..<rest.count) : nil)
    }

    /// Version 2 `SUB <topic-or-pattern> [<option> ...]`.
    private static func parseSubscribe(_ rest: UnsafeRawBufferPointer?) throws(ProtocolError) -> CommandView {
        let (pattern, text) = try splitPattern(rest, verb: "SUB")
        guard let text else { return .subscribe(pattern: pattern, options: .none) }
        let options = try SubscribeOptions.parse(text, isPattern: Names.hasWildcard(pattern))
        return .subscribe(pattern: pattern, options: options)
    }

    /// Version 2 `UNSUB <topic-or-pattern> [group=<name>]`.
    private static func parseUnsubscribe(_ rest: UnsafeRawBufferPointer?) throws(ProtocolError) -> CommandView {
        let (pattern, text) = try splitPattern(rest, verb: "UNSUB")
        guard let text else { return .unsubscribe(pattern: pattern, group: nil) }
        guard text.firstIndex(of: ASCII.space, from: 0) == nil,
              let equals = text.firstIndex(of: SubscribeOptions.equalsSign, from: 0),
              SubscribeOptions.isKey(text.slice(0..<equals), SubscribeOptions.groupKey) else {
            throw ProtocolError(.badArguments, "UNSUB takes a topic or pattern and at most group=<name>")
        }
        return .unsubscribe(pattern: pattern, group: try SubscribeOptions.groupName(text.slice((equals + 1)..<text.count)))
    }
}

/// The verbs the broker knows, matched case-insensitively without allocating.
enum Verb {
    case pub, bpub, sub, unsub, hello, ping, quit, stats, auth, unknown

    init(_ bytes: UnsafeRawBufferPointer) {
        switch bytes.count {
        case 3:
            if Verb.equalsFolded(bytes, "pub") { self = .pub; return }
            if Verb.equalsFolded(bytes, "sub") { self = .sub; return }
        case 4:
            if Verb.equalsFolded(bytes, "ping") { self = .ping; return }
            if Verb.equalsFolded(bytes, "bpub") { self = .bpub; return }
            if Verb.equalsFolded(bytes, "quit") { self = .quit; return }
            if Verb.equalsFolded(bytes, "auth") { self = .auth; return }
        case 5:
            if Verb.equalsFolded(bytes, "unsub") { self = .unsub; return }
            if Verb.equalsFolded(bytes, "hello") { self = .hello; return }
            if Verb.equalsFolded(bytes, "stats") { self = .stats; return }
        default:
            break
        }
        self = .unknown
    }

    /// Compares ASCII letters ignoring case: `x | 0x20` equals a lowercase letter
    /// only for that letter in either case.
    static func equalsFolded(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        let expected = UnsafeRawBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        for index in 0..<expected.count where bytes[index] | 0x20 != expected[index] {
            return false
        }
        return true
    }
}
