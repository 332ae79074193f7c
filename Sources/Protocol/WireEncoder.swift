// Encoding every frame in both directions, byte-exact, into a buffer the caller owns.

/// Appends frames to a caller-owned `[UInt8]`, each ending with one LF.
///
/// The encoder writes what it is given: it does not validate topics or check
/// payloads for LF (the parser and the broker do that). Every function is
/// generic over byte collections and allocates only when the buffer grows.
public enum WireEncoder {
    // MARK: Client to broker

    /// `PUB <topic> <payload>\n`
    @inlinable
    public static func appendPub(
        topic: some Collection<UInt8>, payload: some Collection<UInt8>, to buffer: inout [UInt8]
    ) {
        appendVerb("PUB ", to: &buffer)
        buffer.append(contentsOf: topic)
        buffer.append(ASCII.space)
        buffer.append(contentsOf: payload)
        buffer.append(ASCII.lf)
    }

    /// `SUB <pattern>\n`
    @inlinable
    public static func appendSub(_ pattern: some Collection<UInt8>, to buffer: inout [UInt8]) {
        appendVerb("SUB ", to: &buffer)
        buffer.append(contentsOf: pattern)
        buffer.append(ASCII.lf)
    }

    /// `UNSUB <pattern>\n`
    @inlinable
    public static func appendUnsub(_ pattern: some Collection<UInt8>, to buffer: inout [UInt8]) {
        appendVerb("UNSUB ", to: &buffer)
        buffer.append(contentsOf: pattern)
        buffer.append(ASCII.lf)
    }

    /// `PING\n` or `PING <token>\n` (an empty token is written as no token).
    @inlinable
    public static func appendPing(_ token: (some Collection<UInt8>)?, to buffer: inout [UInt8]) {
        appendVerb("PING", to: &buffer)
        appendOptionalToken(token, to: &buffer)
    }

    /// `QUIT\n`
    @inlinable
    public static func appendQuit(to buffer: inout [UInt8]) {
        appendVerb("QUIT\n", to: &buffer)
    }

    /// `STATS\n` or `STATS <topic>\n` (extension).
    @inlinable
    public static func appendStats(_ topic: (some Collection<UInt8>)?, to buffer: inout [UInt8]) {
        appendVerb("STATS", to: &buffer)
        appendOptionalToken(topic, to: &buffer)
    }

    /// `AUTH [<user> ]<token>\n` (extension).
    @inlinable
    public static func appendAuth(user: [UInt8]? = nil, token: some Collection<UInt8>, to buffer: inout [UInt8]) {
        appendVerb("AUTH ", to: &buffer)
        if let user {
            buffer.append(contentsOf: user)
            buffer.append(ASCII.space)
        }
        buffer.append(contentsOf: token)
        buffer.append(ASCII.lf)
    }

    // MARK: Broker to client

    /// `REVOKED <pattern>[ group=<group>] <text>\n` (extension, docs/security.md): the broker
    /// ended the subscription made with this string (and group) because the user's permissions
    /// no longer allow it; nothing for it follows.
    public static func appendRevoked(_ pattern: some Collection<UInt8>, group: [UInt8]?, text: String, to buffer: inout [UInt8]) {
        appendVerb("REVOKED ", to: &buffer)
        buffer.append(contentsOf: pattern)
        if let group {
            appendVerb(" group=", to: &buffer)
            buffer.append(contentsOf: group)
        }
        buffer.append(ASCII.space)
        buffer.append(contentsOf: text.utf8)
        buffer.append(ASCII.lf)
    }

    /// `OK\n`
    @inlinable
    public static func appendOK(to buffer: inout [UInt8]) {
        appendVerb("OK\n", to: &buffer)
    }

    /// `OK <n>\n`, the reply to `PUB`.
    @inlinable
    public static func appendOK(count: Int, to buffer: inout [UInt8]) {
        // The reply of every PUB: made on the stack and appended at once (one capacity
        // check and one copy, where a byte at a time paid a check per byte).
        var scratch: (UInt64, UInt64, UInt64) = (0, 0, 0)  // "OK " + up to 20 digits + LF
        withUnsafeMutableBytes(of: &scratch) { raw in
            let value = UInt64(max(0, count))
            let end = 3 + Decimal.width(value)
            raw[0] = ASCII.upperO
            raw[1] = ASCII.upperK
            raw[2] = ASCII.space
            _ = Decimal.write(value, endingAt: end, in: raw)
            raw[end] = ASCII.lf
            let bytes = raw.bindMemory(to: UInt8.self)
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[0...end]))
        }
    }

    /// `OK <rest>\n` (an empty rest is written as `OK\n`).
    @inlinable
    public static func appendOK(rest: some Collection<UInt8>, to buffer: inout [UInt8]) {
        appendVerb("OK", to: &buffer)
        appendOptionalToken(rest, to: &buffer)
    }

    /// `ERR <code> <text>\n`
    @inlinable
    public static func appendErr(_ error: ProtocolError, to buffer: inout [UInt8]) {
        appendVerb("ERR ", to: &buffer)
        buffer.append(contentsOf: error.code.rawValue.utf8)
        buffer.append(ASCII.space)
        buffer.append(contentsOf: error.text.utf8)
        buffer.append(ASCII.lf)
    }

    /// `PONG\n` or `PONG <token>\n`.
    @inlinable
    public static func appendPong(_ token: (some Collection<UInt8>)?, to buffer: inout [UInt8]) {
        appendVerb("PONG", to: &buffer)
        appendOptionalToken(token, to: &buffer)
    }

    /// `MSG <topic> <payload>\n` — always with the space, also for an empty payload.
    @inlinable
    public static func appendMsg(
        topic: some Collection<UInt8>, payload: some Collection<UInt8>, to buffer: inout [UInt8]
    ) {
        appendVerb("MSG ", to: &buffer)
        buffer.append(contentsOf: topic)
        buffer.append(ASCII.space)
        buffer.append(contentsOf: payload)
        buffer.append(ASCII.lf)
    }

    /// `LAGGED <topic> <n>\n`
    @inlinable
    public static func appendLagged(topic: some Collection<UInt8>, count: UInt64, to buffer: inout [UInt8]) {
        appendVerb("LAGGED ", to: &buffer)
        buffer.append(contentsOf: topic)
        buffer.append(ASCII.space)
        appendDecimal(count, to: &buffer)
        buffer.append(ASCII.lf)
    }

    /// `BYE <code> <text>\n`
    @inlinable
    public static func appendBye(_ code: ErrorCode, _ text: String, to buffer: inout [UInt8]) {
        appendVerb("BYE ", to: &buffer)
        buffer.append(contentsOf: code.rawValue.utf8)
        buffer.append(ASCII.space)
        buffer.append(contentsOf: text.utf8)
        buffer.append(ASCII.lf)
    }

    // MARK: Pieces

    /// Appends `value` in decimal without allocating a string.
    @inlinable
    public static func appendDecimal(_ value: UInt64, to buffer: inout [UInt8]) {
        if value < 10 {
            buffer.append(ASCII.zero &+ UInt8(value))
            return
        }
        var scratch = (UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0),
                       UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0),
                       UInt8(0), UInt8(0), UInt8(0), UInt8(0))
        withUnsafeMutableBytes(of: &scratch) { raw in
            var index = Decimal.write(value, endingAt: raw.count, in: raw)
            while index < raw.count {
                buffer.append(raw[index])
                index += 1
            }
        }
    }

    /// Appends a short constant byte by byte: for a few bytes this is several
    /// times cheaper than the generic `append(contentsOf:)`.
    @inlinable
    static func appendVerb(_ verb: StaticString, to buffer: inout [UInt8]) {
        let start = verb.utf8Start
        for offset in 0..<verb.utf8CodeUnitCount { buffer.append(start[offset]) }
    }

    @inlinable
    static func appendOptionalToken(_ token: (some Collection<UInt8>)?, to buffer: inout [UInt8]) {
        if let token, !token.isEmpty {
            buffer.append(ASCII.space)
            buffer.append(contentsOf: token)
        }
        buffer.append(ASCII.lf)
    }
}

extension WireEncoder {
    /// `PING\n`
    @inlinable
    public static func appendPing(to buffer: inout [UInt8]) {
        appendVerb("PING\n", to: &buffer)
    }

    /// `PONG\n`
    @inlinable
    public static func appendPong(to buffer: inout [UInt8]) {
        appendVerb("PONG\n", to: &buffer)
    }
}
