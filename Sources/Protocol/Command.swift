// Client commands: the borrowed view the parser produces, and an owned copy.

/// A parsed client command whose byte arguments point into the line it was
/// parsed from. Valid only as long as that line's memory; allocation-free.
public enum CommandView {
    /// `PUB <topic> <payload>`: a valid, unreserved concrete topic; any payload.
    case publish(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer)
    /// `SUB <topic-or-pattern>`: a valid topic or pattern.
    case subscribe(pattern: UnsafeRawBufferPointer)
    /// `UNSUB <topic-or-pattern>`: a valid topic or pattern.
    case unsubscribe(pattern: UnsafeRawBufferPointer)
    /// `PING [<token>]`: the token is nil or non-empty.
    case ping(token: UnsafeRawBufferPointer?)
    /// `QUIT`.
    case quit
    /// `STATS [<topic>]` (extension): server figures, or one topic's; the topic is a valid concrete topic.
    case stats(topic: UnsafeRawBufferPointer?)
    /// `AUTH <token>` (extension): authenticate with the configured token; the token is non-empty.
    case auth(token: UnsafeRawBufferPointer)
}

/// A client command that owns its bytes (for clients, tests and queues).
public enum Command: Hashable, Sendable {
    case publish(topic: [UInt8], payload: [UInt8])
    case subscribe(pattern: [UInt8])
    case unsubscribe(pattern: [UInt8])
    case ping(token: [UInt8]?)
    case quit
    case stats(topic: [UInt8]?)
    case auth(token: [UInt8])

    /// Copies a borrowed view.
    public init(_ view: CommandView) {
        switch view {
        case let .publish(topic, payload): self = .publish(topic: Array(topic), payload: Array(payload))
        case let .subscribe(pattern): self = .subscribe(pattern: Array(pattern))
        case let .unsubscribe(pattern): self = .unsubscribe(pattern: Array(pattern))
        case let .ping(token): self = .ping(token: token.map { Array($0) })
        case .quit: self = .quit
        case let .stats(topic): self = .stats(topic: topic.map { Array($0) })
        case let .auth(token): self = .auth(token: Array(token))
        }
    }

    /// Convenience for text: `Command.publish("t", "hello")`.
    public static func publish(_ topic: String, _ payload: String) -> Command {
        .publish(topic: Array(topic.utf8), payload: Array(payload.utf8))
    }

    /// Appends the command's wire form, LF included. The arguments are written as
    /// they are: encoding an invalid command yields a line the broker will refuse.
    public func encode(into buffer: inout [UInt8]) {
        switch self {
        case let .publish(topic, payload): WireEncoder.appendPub(topic: topic, payload: payload, to: &buffer)
        case let .subscribe(pattern): WireEncoder.appendSub(pattern, to: &buffer)
        case let .unsubscribe(pattern): WireEncoder.appendUnsub(pattern, to: &buffer)
        case let .ping(token): WireEncoder.appendPing(token, to: &buffer)
        case .quit: WireEncoder.appendQuit(to: &buffer)
        case let .stats(topic): WireEncoder.appendStats(topic, to: &buffer)
        case let .auth(token): WireEncoder.appendAuth(token, to: &buffer)
        }
    }
}
