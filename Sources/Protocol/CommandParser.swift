// Parsing one client line into a command, with the spec's error codes.

/// Parses client lines exactly as PROTOCOL.md says.
///
/// - Verbs are case-insensitive; an unknown verb is `unknown-command` whatever follows.
/// - Arguments are the text after the verb split at each single space; for `PUB`
///   only the topic is split off and the rest, spaces kept, is the payload.
/// - The argument count is checked before the topic (`bad-arguments`, then `bad-topic`,
///   then `reserved-topic`).
///
/// The input is one line as ``LineFramer`` delivers it: no LF, no trailing CR of
/// the line ending. Parsing allocates nothing on success.
public enum CommandParser {
    /// Parses one line. The returned view points into `line`.
    public static func parse(_ line: UnsafeRawBufferPointer) throws(ProtocolError) -> CommandView {
        let verbEnd = line.firstIndex(of: ASCII.space, from: 0) ?? line.count
        let verb = Verb(line.slice(0..<verbEnd))
        // The text after the verb and its space; nil when the line is the verb alone.
        let rest: UnsafeRawBufferPointer? = verbEnd < line.count ? line.slice((verbEnd + 1)..<line.count) : nil
        switch verb {
        case .pub:
            return try parsePublish(rest)
        case .sub:
            return .subscribe(pattern: try parsePatternArgument(rest, verb: "SUB"))
        case .unsub:
            return .unsubscribe(pattern: try parsePatternArgument(rest, verb: "UNSUB"))
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
            guard let rest, !rest.isEmpty, rest.firstIndex(of: ASCII.space, from: 0) == nil else {
                throw ProtocolError(.badArguments, "AUTH takes exactly one token")
            }
            return .auth(token: rest)
        case .unknown:
            throw ProtocolError(.unknownCommand, "unknown command")
        }
    }

    /// Parses the bytes of a line held in an array (convenience for tests and tools).
    public static func parse(_ line: [UInt8]) throws(ProtocolError) -> Command {
        let result = line.withUnsafeBytes { bytes in
            Result { () throws(ProtocolError) in Command(try parse(bytes)) }
        }
        return try result.get()
    }

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
            throw ProtocolError(.reservedTopic, "topics starting with '$' belong to the broker")
        }
        if payload.last == ASCII.cr {
            throw ProtocolError(.badArguments, "a payload may not end with CR")
        }
        return .publish(topic: topic, payload: payload)
    }

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
}

/// The verbs the broker knows, matched case-insensitively without allocating.
enum Verb {
    case pub, sub, unsub, ping, quit, stats, auth, unknown

    init(_ bytes: UnsafeRawBufferPointer) {
        switch bytes.count {
        case 3:
            if Verb.equalsFolded(bytes, "pub") { self = .pub; return }
            if Verb.equalsFolded(bytes, "sub") { self = .sub; return }
        case 4:
            if Verb.equalsFolded(bytes, "ping") { self = .ping; return }
            if Verb.equalsFolded(bytes, "quit") { self = .quit; return }
            if Verb.equalsFolded(bytes, "auth") { self = .auth; return }
        case 5:
            if Verb.equalsFolded(bytes, "unsub") { self = .unsub; return }
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
