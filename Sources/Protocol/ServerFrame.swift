// Frames the broker writes, as a client reads them: a borrowed view, an owned copy, and the parser.

/// A broker frame whose byte fields point into the line it was parsed from.
public enum ServerFrameView {
    /// `OK` (rest nil) or `OK <rest>`.
    case ok(rest: UnsafeRawBufferPointer?)
    /// `ERR <code> <text>`.
    case err(code: UnsafeRawBufferPointer, text: UnsafeRawBufferPointer)
    /// `PONG` (token nil) or `PONG <token>`.
    case pong(token: UnsafeRawBufferPointer?)
    /// `MSG <topic> <payload>`.
    case msg(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer)
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
    case lagged(topic: [UInt8], count: UInt64)
    case bye(code: ErrorCode, text: String)

    /// Copies a borrowed view.
    public init(_ view: ServerFrameView) {
        switch view {
        case let .ok(rest): self = .ok(rest: rest.map { Array($0) })
        case let .err(code, text): self = .err(code: ErrorCode(rawValue: String(decoding: code, as: UTF8.self)), text: String(decoding: text, as: UTF8.self))
        case let .pong(token): self = .pong(token: token.map { Array($0) })
        case let .msg(topic, payload): self = .msg(topic: Array(topic), payload: Array(payload))
        case let .lagged(topic, count): self = .lagged(topic: Array(topic), count: count)
        case let .bye(code, text): self = .bye(code: ErrorCode(rawValue: String(decoding: code, as: UTF8.self)), text: String(decoding: text, as: UTF8.self))
        }
    }

    /// Appends the frame's wire form, LF included.
    public func encode(into buffer: inout [UInt8]) {
        switch self {
        case let .ok(rest):
            if let rest { WireEncoder.appendOK(rest: rest, to: &buffer) } else { WireEncoder.appendOK(to: &buffer) }
        case let .err(code, text): WireEncoder.appendErr(ProtocolError(code, text), to: &buffer)
        case let .pong(token):
            if let token { WireEncoder.appendPong(token, to: &buffer) } else { WireEncoder.appendPong(to: &buffer) }
        case let .msg(topic, payload): WireEncoder.appendMsg(topic: topic, payload: payload, to: &buffer)
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

/// Parses broker lines (as ``LineFramer`` delivers them) into frames.
public enum ServerFrameParser {
    /// Parses one line; the view points into `line`. Verbs are matched case-insensitively.
    public static func parse(_ line: UnsafeRawBufferPointer) throws(FrameError) -> ServerFrameView {
        let verbEnd = line.firstIndex(of: ASCII.space, from: 0) ?? line.count
        let verb = line.slice(0..<verbEnd)
        let rest: UnsafeRawBufferPointer? = verbEnd < line.count ? line.slice((verbEnd + 1)..<line.count) : nil
        switch verb.count {
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
    public static func parse(_ line: [UInt8]) throws(FrameError) -> ServerFrame {
        let result = line.withUnsafeBytes { bytes in
            Result { () throws(FrameError) in ServerFrame(try parse(bytes)) }
        }
        return try result.get()
    }

    /// A decimal `UInt64` with no sign, no spaces and no overflow, or nil.
    public static func parseDecimal(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        if bytes.isEmpty || bytes.count > 20 { return nil }
        var value: UInt64 = 0
        for byte in bytes {
            guard byte >= ASCII.zero, byte <= ASCII.zero + 9 else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(byte - ASCII.zero))
            if o1 || o2 { return nil }
            value = sum
        }
        return value
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
