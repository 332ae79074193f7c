// Client commands: the borrowed view the parser produces, and an owned copy.

/// A parsed client command whose byte arguments point into the line it was
/// parsed from. Valid only as long as that line's memory.
///
/// Allocation-free, except `SUB` (a box for the case, and the options it owns) and
/// an `UNSUB` with a group (which owns it). The cases of the hot paths (`PUB`, `BPUB`)
/// hold only pointers and numbers, and rarer cases with larger values are `indirect`,
/// so the view stays as small as two buffer pointers and a tag: parsing a `PUB` costs
/// no more than before version 2 (callgrind, codec-bench).
public enum CommandView {
    /// `PUB <topic> <payload>`: a valid, unreserved concrete topic; any payload.
    case publish(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer)
    /// `BPUB <topic> <size>`: `size` payload bytes follow the line, then LF or CRLF.
    /// Whatever the answer, the server takes them off the wire first (the framer's
    /// ``FramerDecision/readPayload(_:)`` or ``FramerDecision/skipPayload(_:)``).
    /// `refusal` is set when the topic is bad (`bad-topic`, `reserved-topic`): its
    /// ``TopicRefusal/error`` is the reply to send once the payload is gone; the topic
    /// is then unchecked bytes. A size of 2^64 or more reads as `UInt64.max`.
    case binaryPublish(topic: UnsafeRawBufferPointer, size: UInt64, refusal: TopicRefusal?)
    /// `SUB <topic-or-pattern> [<option> ...]`: a valid topic or pattern; options only in version 2.
    indirect case subscribe(pattern: UnsafeRawBufferPointer, options: SubscribeOptions)
    /// `UNSUB <topic-or-pattern> [group=<name>]`: a valid topic or pattern; a group only in version 2.
    case unsubscribe(pattern: UnsafeRawBufferPointer, group: [UInt8]?)
    /// `HELLO <version>`: 1 or 2.
    case hello(version: Int)
    /// `PING [<token>]`: the token is nil or non-empty.
    case ping(token: UnsafeRawBufferPointer?)
    /// `QUIT`.
    case quit
    /// `STATS [<topic>]` (extension): server figures, or one topic's; the topic is a valid concrete topic.
    case stats(topic: UnsafeRawBufferPointer?)
    /// `AUTH [<user>] <token>` (extension): log in with the configured token, or as an
    /// `acl_file` user; user (when given) and token are non-empty.
    case auth(user: UnsafeRawBufferPointer?, token: UnsafeRawBufferPointer)
}

/// Why a `BPUB` topic is refused; the reply is sent after its payload is taken off the wire.
///
/// A one-byte value rather than a ``ProtocolError`` so that ``CommandView`` stays small.
public enum TopicRefusal: Hashable, Sendable {
    /// The topic breaks the naming rules: `bad-topic`.
    case badTopic(Names.Violation)
    /// The topic is the broker's (its first level starts with `$`): `reserved-topic`.
    case reservedTopic

    /// The `ERR` reply, with the same code and text as the refusal of a `PUB` to that topic.
    public var error: ProtocolError {
        switch self {
        case let .badTopic(violation): ProtocolError(.badTopic, violation.text)
        case .reservedTopic: CommandParser.reserved
        }
    }
}

/// A client command that owns its bytes (for clients, tests and queues).
///
/// Guarantees: ``encode(into:)`` writes the wire form of either version, and a valid
/// command reads back equal through ``LineFramer`` and ``CommandParser`` (version 2 for
/// options and groups). A `BPUB` owns its payload, which follows its line on the wire.
public enum Command: Hashable, Sendable {
    case publish(topic: [UInt8], payload: [UInt8])
    case binaryPublish(topic: [UInt8], payload: [UInt8])
    case subscribe(pattern: [UInt8], options: SubscribeOptions = .none)
    case unsubscribe(pattern: [UInt8], group: [UInt8]? = nil)
    case hello(version: Int)
    case ping(token: [UInt8]?)
    case quit
    case stats(topic: [UInt8]?)
    case auth(user: [UInt8]?, token: [UInt8])

    /// Copies a borrowed view. A `BPUB` line holds only its payload's size: `payload`
    /// is that payload, read after the line (empty when not given). A `BPUB` view's
    /// refusal is not kept.
    public init(_ view: CommandView, payload: UnsafeRawBufferPointer? = nil) {
        switch view {
        case let .publish(topic, payload): self = .publish(topic: Array(topic), payload: Array(payload))
        case let .binaryPublish(topic, _, _): self = .binaryPublish(topic: Array(topic), payload: payload.map { Array($0) } ?? [])
        case let .subscribe(pattern, options): self = .subscribe(pattern: Array(pattern), options: options)
        case let .unsubscribe(pattern, group): self = .unsubscribe(pattern: Array(pattern), group: group)
        case let .hello(version): self = .hello(version: version)
        case let .ping(token): self = .ping(token: token.map { Array($0) })
        case .quit: self = .quit
        case let .stats(topic): self = .stats(topic: topic.map { Array($0) })
        case let .auth(user, token): self = .auth(user: user.map { Array($0) }, token: Array(token))
        }
    }

    /// Convenience for text: `Command.publish("t", "hello")`.
    public static func publish(_ topic: String, _ payload: String) -> Command {
        .publish(topic: Array(topic.utf8), payload: Array(payload.utf8))
    }

    /// Appends the command's wire form, LF included (for `BPUB`: the line, the payload
    /// and its LF). The arguments are written as they are: encoding an invalid command
    /// yields a line the broker will refuse.
    public func encode(into buffer: inout [UInt8]) {
        switch self {
        case let .publish(topic, payload): WireEncoder.appendPub(topic: topic, payload: payload, to: &buffer)
        case let .binaryPublish(topic, payload): WireEncoder.appendBpub(topic: topic, payload: payload, to: &buffer)
        case let .subscribe(pattern, options): WireEncoder.appendSub(pattern, options: options, to: &buffer)
        case let .unsubscribe(pattern, group): WireEncoder.appendUnsub(pattern, group: group, to: &buffer)
        case let .hello(version): WireEncoder.appendHello(version: version, to: &buffer)
        case let .ping(token): WireEncoder.appendPing(token, to: &buffer)
        case .quit: WireEncoder.appendQuit(to: &buffer)
        case let .stats(topic): WireEncoder.appendStats(topic, to: &buffer)
        case let .auth(user, token): WireEncoder.appendAuth(user: user, token: token, to: &buffer)
        }
    }
}
