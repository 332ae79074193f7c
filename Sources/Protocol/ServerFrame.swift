// Frames the broker writes, as a client reads them: a borrowed view, an owned copy, and the parser.

/// A broker frame whose byte fields point into the line it was parsed from.
///
/// In version 2 a message is a line and a payload: the parser gives ``msgHeader(topic:seq:size:)``
/// for the line, and the client reads the payload with the framer's
/// ``FramerDecision/readPayload(_:)``.
public enum ServerFrameView {
    /// `OK` (rest nil) or `OK <rest>`.
    case ok(rest: UnsafeRawBufferPointer?)
    /// `ERR <code> <text>`.
    case err(code: UnsafeRawBufferPointer, text: UnsafeRawBufferPointer)
    /// `PONG` (token nil) or `PONG <token>`.
    case pong(token: UnsafeRawBufferPointer?)
    /// `MSG <topic> <payload>` (version 1).
    case msg(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer)
    /// `MSG <topic> <seq> <size>` (version 2): `size` payload bytes and an LF follow the line.
    case msgHeader(topic: UnsafeRawBufferPointer, seq: UInt64, size: UInt64)
    /// `LAGGED <topic> <n>`.
    case lagged(topic: UnsafeRawBufferPointer, count: UInt64)
    /// `BYE <code> <text>`.
    case bye(code: UnsafeRawBufferPointer, text: UnsafeRawBufferPointer)
}

/// A broker frame that owns its bytes.
public enum ServerFrame: Hashable, Sendable {
    case ok(rest: [UInt8]?)
    case err(code: ErrorCode, text: String)
    case pong(token: [UInt8]?)
    case msg(topic: [UInt8], payload: [UInt8])
    /// The line of a version 2 message; its payload is not part of the frame.
    case msgHeader(topic: [UInt8], seq: UInt64, size: UInt64)
    case lagged(topic: [UInt8], count: UInt64)
    case bye(code: ErrorCode, text: String)

    /// Copies a borrowed view.
    public init(_ view: ServerFrameView) {
        switch view {
        case let .ok(rest): self = .ok(rest: rest.map { Array($0) })
        case let .err(code, text): self = .err(code: ErrorCode(rawValue: String(decoding: code, as: UTF8.self)), text: String(decoding: text, as: UTF8.self))
        case let .pong(token): self = .pong(token: token.map { Array($0) })
        case let .msg(topic, payload): self = .msg(topic: Array(topic), payload: Array(payload))
        case let .msgHeader(topic, seq, size): self = .msgHeader(topic: Array(topic), seq: seq, size: size)
        case let .lagged(topic, count): self = .lagged(topic: Array(topic), count: count)
        case let .bye(code, text): self = .bye(code: ErrorCode(rawValue: String(decoding: code, as: UTF8.self)), text: String(decoding: text, as: UTF8.self))
        }
    }

    /// Appends the frame's wire form, LF included (for ``msgHeader(topic:seq:size:)``, the line only).
    public func encode(into buffer: inout [UInt8]) {
        switch self {
        case let .ok(rest):
            if let rest { WireEncoder.appendOK(rest: rest, to: &buffer) } else { WireEncoder.appendOK(to: &buffer) }
        case let .err(code, text): WireEncoder.appendErr(ProtocolError(code, text), to: &buffer)
        case let .pong(token):
            if let token { WireEncoder.appendPong(token, to: &buffer) } else { WireEncoder.appendPong(to: &buffer) }
        case let .msg(topic, payload): WireEncoder.appendMsg(topic: topic, payload: payload, to: &buffer)
        case let .msgHeader(topic, seq, size): WireEncoder.appendMsgV2Header(topic: topic, seq: seq, size: size, to: &buffer)
        case let .lagged(topic, count): WireEncoder.appendLagged(topic: topic, count: count, to: &buffer)
        case let .bye(code, text): WireEncoder.appendBye(code, text, to: &buffer)
        }
    }
}

/// Why a line from the broker is not a frame this client understands.
public struct FrameError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The offending line (lossily decoded, at most 80 bytes).
    public let line: String
    public let reason: String
    public var description: String { "\(reason): \(line)" }
}

/// Parses broker lines (as ``LineFramer`` delivers them) into frames, for a connection
/// of version 1 or 2, and reads the version 2 `OK` replies. Pure; any thread.
public enum ServerFrameParser {
    /// Parses one line of a connection speaking `version` (2 for version 2, anything else
    /// parses as version 1); the view points into `line`. Verbs are matched case-insensitively.
    /// Only `MSG` differs: `MSG <topic> <payload>` in version 1, `MSG <topic> <seq> <size>` in version 2.
    public static func parse(_ line: UnsafeRawBufferPointer, version: Int = 1) throws(FrameError) -> ServerFrameView {
        let verbEnd = line.firstIndex(of: ASCII.space, from: 0) ?? line.count
        let verb = line.slice(0..<verbEnd)
        let rest: UnsafeRawBufferPointer? = verbEnd < line.count ? line.slice((verbEnd + 1)..<line.count) : nil
        switch verb.count {
        case 3 where version == 2 && Verb.equalsFolded(verb, "msg"):
            return try messageHeader(rest, line)
        case 3 where Verb.equalsFolded(verb, "msg"):
            guard let rest, let space = rest.firstIndex(of: ASCII.space, from: 0), space > 0 else {
                throw failure(line, "MSG without topic and payload")
            }
            return .msg(topic: rest.slice(0..<space), payload: rest.slice((space + 1)..<rest.count))
        case 2 where Verb.equalsFolded(verb, "ok"):
            return .ok(rest: rest)
        case 4 where Verb.equalsFolded(verb, "pong"):
            return .pong(token: (rest?.isEmpty ?? true) ? nil : rest)
        case 3 where Verb.equalsFolded(verb, "err"):
            let (code, text) = try codeAndText(rest, line)
            return .err(code: code, text: text)
        case 3 where Verb.equalsFolded(verb, "bye"):
            let (code, text) = try codeAndText(rest, line)
            return .bye(code: code, text: text)
        case 6 where Verb.equalsFolded(verb, "lagged"):
            guard let rest, let space = rest.firstIndex(of: ASCII.space, from: 0), space > 0,
                  let count = parseDecimal(rest.slice((space + 1)..<rest.count)) else {
                throw failure(line, "LAGGED without topic and count")
            }
            return .lagged(topic: rest.slice(0..<space), count: count)
        default:
            throw failure(line, "unknown frame")
        }
    }

    /// Parses the bytes of a line held in an array.
    public static func parse(_ line: [UInt8], version: Int = 1) throws(FrameError) -> ServerFrame {
        let result = line.withUnsafeBytes { bytes in
            Result { () throws(FrameError) in ServerFrame(try parse(bytes, version: version)) }
        }
        return try result.get()
    }

    /// Reads the `rest` of `OK <n> <epoch>:<seq>`, the version 2 reply to `PUB` and `BPUB`:
    /// the receiver count and the message's position (the epoch points into `rest`).
    /// Nil unless it is exactly that, with a valid epoch and numbers below 2^64.
    public static func publishReply(_ rest: UnsafeRawBufferPointer) -> (count: UInt64, epoch: UnsafeRawBufferPointer, seq: UInt64)? {
        guard let space = rest.firstIndex(of: ASCII.space, from: 0),
              let count = Decimal.parse(rest.slice(0..<space)),
              let (epoch, seq) = StreamPosition.components(of: rest.slice((space + 1)..<rest.count)) else { return nil }
        return (count, epoch, seq)
    }

    /// Reads the `rest` of `OK <epoch> <head>`, the version 2 reply to a `SUB` of a concrete
    /// topic (the epoch points into `rest`). Nil unless it is exactly that.
    public static func subscribeReply(_ rest: UnsafeRawBufferPointer) -> (epoch: UnsafeRawBufferPointer, head: UInt64)? {
        guard let space = rest.firstIndex(of: ASCII.space, from: 0) else { return nil }
        let epoch = rest.slice(0..<space)
        guard Names.isValidEpoch(epoch), let head = Decimal.parse(rest.slice((space + 1)..<rest.count)) else { return nil }
        return (epoch, head)
    }

    /// ``publishReply(_:)`` for an owned `rest`: the count and the position.
    public static func publishReply(_ rest: [UInt8]) -> (count: UInt64, position: StreamPosition)? {
        rest.withUnsafeBytes { bytes in
            publishReply(bytes).map { (count: $0.count, position: StreamPosition(epoch: Array($0.epoch), seq: $0.seq)) }
        }
    }

    /// ``subscribeReply(_:)`` for an owned `rest`: the stream's head as a position
    /// (the `from=` that resumes right after it).
    public static func subscribeReply(_ rest: [UInt8]) -> StreamPosition? {
        rest.withUnsafeBytes { bytes in
            subscribeReply(bytes).map { StreamPosition(epoch: Array($0.epoch), seq: $0.head) }
        }
    }

    /// The usual version 2 frame, read fast: a line that begins with exactly `MSG `
    /// (upper case, as brokers send it) followed by a well-formed header gives its topic,
    /// sequence and size; anything else gives nil, and ``parse(_:version:)`` decides what
    /// it is (or what is wrong with it). Never a different answer from `parse` for a line
    /// it accepts.
    @inlinable
    public static func versionTwoMessageHeader(_ line: UnsafeRawBufferPointer) -> (topic: UnsafeRawBufferPointer, seq: UInt64, size: UInt64)? {
        let count = line.count
        guard count >= 9, line[0] == 0x4D, line[1] == 0x53, line[2] == 0x47, line[3] == ASCII.space else { return nil }
        // All in one pass, inlined: the topic up to its space, then the two numbers.
        var topicEnd = 4
        while topicEnd < count && line[topicEnd] != ASCII.space { topicEnd += 1 }
        guard topicEnd > 4, topicEnd < count,
              let (seq, seqEnd) = Decimal.parseField(line, from: topicEnd + 1), seqEnd < count, line[seqEnd] == ASCII.space,
              let (size, sizeEnd) = Decimal.parseField(line, from: seqEnd + 1), sizeEnd == count else { return nil }
        return (UnsafeRawBufferPointer(rebasing: line[4..<topicEnd]), seq, size)
    }

    /// The fields of `<topic> <seq> <size>`, or nil unless it is exactly that.
    @usableFromInline
    static func messageHeaderFields(_ rest: UnsafeRawBufferPointer) -> (topic: UnsafeRawBufferPointer, seq: UInt64, size: UInt64)? {
        guard let first = rest.firstIndex(of: ASCII.space, from: 0), first > 0,
              let (seq, seqEnd) = Decimal.parseField(rest, from: first + 1), seqEnd < rest.count, rest[seqEnd] == ASCII.space,
              let (size, sizeEnd) = Decimal.parseField(rest, from: seqEnd + 1), sizeEnd == rest.count else { return nil }
        return (rest.slice(0..<first), seq, size)
    }

    /// `MSG <topic> <seq> <size>`: three arguments, a non-empty topic, two numbers.
    private static func messageHeader(
        _ rest: UnsafeRawBufferPointer?, _ line: UnsafeRawBufferPointer
    ) throws(FrameError) -> ServerFrameView {
        // One pass over the numbers: the sequence's digits up to a space, the size's to the end.
        guard let rest, let (topic, seq, size) = messageHeaderFields(rest) else {
            throw failure(line, "MSG without topic, sequence and size")
        }
        return .msgHeader(topic: topic, seq: seq, size: size)
    }

    /// A decimal `UInt64` with no sign, no spaces and no overflow, or nil.
    public static func parseDecimal(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        Decimal.parse(bytes)
    }

    private static func codeAndText(
        _ rest: UnsafeRawBufferPointer?, _ line: UnsafeRawBufferPointer
    ) throws(FrameError) -> (UnsafeRawBufferPointer, UnsafeRawBufferPointer) {
        guard let rest, !rest.isEmpty else { throw failure(line, "error frame without a code") }
        guard let space = rest.firstIndex(of: ASCII.space, from: 0) else {
            return (rest, rest.slice(rest.count..<rest.count))
        }
        return (rest.slice(0..<space), rest.slice((space + 1)..<rest.count))
    }

    private static func failure(_ line: UnsafeRawBufferPointer, _ reason: String) -> FrameError {
        FrameError(line: String(decoding: line.prefix(80), as: UTF8.self), reason: reason)
    }
}
