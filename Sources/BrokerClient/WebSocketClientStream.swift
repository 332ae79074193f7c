// The client side of the WebSocket transport (PROTOCOL.md, "Transports"): the opening handshake, then the protocol's byte stream in masked client messages and unmasked server frames.
import Posix
import Protocol

/// The byte stream of a broker connection carried by a WebSocket (RFC 6455, client side).
///
/// What the connection writes goes out as binary messages, masked as a client must, of at
/// most ``messageBytes`` each (a message may hold part of a line or several lines); what the
/// server's data frames carry is read back as one byte stream, whatever their boundaries.
///
/// Guarantees:
/// - ``write(_:)`` takes all the bytes it is given or none: a frame the socket did not
///   take whole stays in ``wire`` and goes out first, on the next read, write or wait, so
///   frames never interleave.
/// - A server ping is answered with a pong; a server close frame is answered with one and
///   reads as the end of the stream; a masked or malformed server frame is a protocol violation.
///
/// Owned by one ``ConnectionSocket`` and used on its connection's thread only.
final class WebSocketClientStream {
    /// The most bytes of the stream carried by one client message: small enough for any
    /// broker's message limit (`max_line_bytes` and `max_payload_bytes` at their defaults
    /// allow far more), large enough that a frame's 8 bytes of header cost nothing.
    static let messageBytes = 4096
    /// Bytes read from the socket per call (frames are taken out of them into the caller's buffer).
    static let scratchBytes = 64 * 1024

    /// Frames to send, from `wireSent` on.
    private var wire: [UInt8] = []
    private var wireSent = 0
    /// Bytes read from the socket and not yet taken apart: `raw[rawStart..<rawEnd]`.
    private let raw: UnsafeMutableRawBufferPointer
    private var rawStart = 0
    private var rawEnd = 0
    /// Payload bytes of the current data frame not read yet.
    private var payloadLeft = 0
    /// Set once the server's close frame was read: the stream has ended.
    private var ended = false
    /// The mask keys' source.
    private var random = SystemRandomNumberGenerator()

    /// A stream whose first bytes are `early` (what came after the server's response head).
    init(early: [UInt8]) {
        raw = .allocate(byteCount: max(WebSocketClientStream.scratchBytes, early.count), alignment: 16)
        raw.copyBytes(from: early)
        rawEnd = early.count
    }

    deinit { raw.deallocate() }

    // MARK: - The opening handshake

    /// Sends the upgrade request for `path` on `socket` and reads the response until
    /// `deadline`; returns the bytes that followed the response head. Throws
    /// `cannotConnect` naming what the server answered when it is not a 101 with the right accept key.
    static func handshake(on socket: ClientTransport, endpoint: Endpoint, path: String,
                          deadline: ContinuousClock.Instant) throws(BrokerClientError) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        let key = Base64.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let hostField = endpoint.host.contains(":") ? "[\(endpoint.host)]:\(endpoint.port)" : "\(endpoint.host):\(endpoint.port)"
        let request = "GET \(path) HTTP/1.1\r\nHost: \(hostField)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n"
        let bytes = Array(request.utf8)
        var sent = 0
        do {
            while sent < bytes.count {
                let result: Result<IOResult<Int>, SystemError> = bytes.withUnsafeBytes { all in
                    Result { () throws(SystemError) in try socket.send(UnsafeRawBufferPointer(rebasing: all[sent...])) }
                }
                switch try result.get() {
                case let .done(count): sent += count
                case .wouldBlock:
                    if try socket.poll(for: .writable, until: deadline).isEmpty { throw BrokerClientError.timedOut("the WebSocket upgrade") }
                }
            }
            var response: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                if let end = HTTPFetch.findHeadEnd(response) {
                    try checkResponse(Array(response[..<end]), key: key, endpoint: endpoint)
                    return Array(response[(end + 4)...])
                }
                guard response.count < 16384 else {
                    throw BrokerClientError.cannotConnect(address: endpoint.description, reason: "the upgrade response head is too long")
                }
                let result: Result<IOResult<Int>, SystemError> = chunk.withUnsafeMutableBytes { buffer in
                    Result { () throws(SystemError) in try socket.read(into: buffer) }
                }
                switch try result.get() {
                case .done(0):
                    throw BrokerClientError.cannotConnect(address: endpoint.description, reason: "closed during the WebSocket upgrade")
                case let .done(count): response += chunk[0..<count]
                case .wouldBlock:
                    if try socket.poll(for: .readable, until: deadline).isEmpty { throw BrokerClientError.timedOut("the WebSocket upgrade") }
                }
            }
        } catch let error as SystemError {
            throw BrokerClientError(error)
        } catch let error as BrokerClientError {
            throw error
        } catch {
            throw BrokerClientError.protocolViolation("\(error)")
        }
    }

    /// Checks a response head: `101` and the accept key that answers `key`.
    static func checkResponse(_ head: [UInt8], key: String, endpoint: Endpoint) throws(BrokerClientError) {
        let lines = String(decoding: head, as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        let status = lines.first.map(String.init) ?? ""
        guard status.hasPrefix("HTTP/1.1 101") else {
            throw .cannotConnect(address: endpoint.description, reason: "no WebSocket upgrade: \(status)")
        }
        let expected = WebSocketHandshake.acceptKey(for: key)
        let accepted = lines.dropFirst().contains { line in
            guard let colon = line.firstIndex(of: ":") else { return false }
            return line[..<colon].lowercased() == "sec-websocket-accept"
                && line[line.index(after: colon)...].trimmingCharacters(in: " \t") == expected
        }
        guard accepted else { throw .cannotConnect(address: endpoint.description, reason: "the upgrade response has the wrong Sec-WebSocket-Accept") }
    }

    // MARK: - Writing

    /// Whether frames wait to be written.
    var hasPendingWire: Bool { wireSent < wire.count }

    /// Frames `bytes` into masked binary messages and writes as much as the socket takes;
    /// `.done(bytes.count)` once they are framed (what the socket did not take goes first
    /// later), `.wouldBlock` (nothing taken) while earlier frames are still waiting.
    func write(_ bytes: UnsafeRawBufferPointer, on socket: ClientTransport) throws(SystemError) -> IOResult<Int> {
        if bytes.isEmpty { return .done(0) }
        guard try flush(on: socket) else { return .wouldBlock }
        wire.removeAll(keepingCapacity: true)
        wireSent = 0
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + WebSocketClientStream.messageBytes)
            appendFrame(opcode: WebSocketFrameEncoder.binary, UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
            offset = end
        }
        _ = try flush(on: socket)
        return .done(bytes.count)
    }

    /// Appends one final, masked frame.
    private func appendFrame(opcode: UInt8, _ payload: UnsafeRawBufferPointer) {
        wire.append(0x80 | opcode)
        let count = payload.count
        if count <= 125 {
            wire.append(0x80 | UInt8(count))
        } else if count <= 0xFFFF {
            wire.append(0x80 | 126)
            wire.append(UInt8(count >> 8))
            wire.append(UInt8(count & 0xFF))
        } else {
            wire.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { wire.append(UInt8(truncatingIfNeeded: UInt64(count) >> UInt64(shift))) }
        }
        let key = random.next() as UInt32
        let mask = [UInt8(truncatingIfNeeded: key), UInt8(truncatingIfNeeded: key >> 8),
                    UInt8(truncatingIfNeeded: key >> 16), UInt8(truncatingIfNeeded: key >> 24)]
        wire.append(contentsOf: mask)
        var index = 0
        for byte in payload {
            wire.append(byte ^ mask[index & 3])
            index &+= 1
        }
    }

    /// Writes waiting frames as far as the socket takes them; true when none is left.
    func flush(on socket: ClientTransport) throws(SystemError) -> Bool {
        while wireSent < wire.count {
            let start = wireSent
            let result: Result<IOResult<Int>, SystemError> = wire.withUnsafeBytes { all in
                Result { () throws(SystemError) in try socket.send(UnsafeRawBufferPointer(rebasing: all[start...])) }
            }
            guard case let .done(count) = try result.get() else { return false }
            wireSent += count
        }
        return true
    }

    // MARK: - Reading

    /// Reads the payloads of the server's data frames into `buffer`: `.done(n)` with `n > 0`,
    /// `.done(0)` once the server closed (a close frame or the end of the connection),
    /// `.wouldBlock` when a whole frame header or payload byte is not there yet.
    func read(into buffer: UnsafeMutableRawBufferPointer, on socket: ClientTransport) throws(BrokerClientError) -> IOResult<Int> {
        if ended { return .done(0) }
        do { _ = try flush(on: socket) } catch { throw BrokerClientError(error) }
        while true {
            let taken = try take(into: buffer, on: socket)
            if taken > 0 { return .done(taken) }
            if ended { return .done(0) }
            // Need more bytes: keep the unread ones at the front, read after them.
            compact()
            let outcome: IOResult<Int>
            do { outcome = try socket.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[rawEnd...])) } catch {
                throw BrokerClientError(error)
            }
            switch outcome {
            case .done(0):
                ended = true
                return .done(0)
            case let .done(count): rawEnd += count
            case .wouldBlock: return .wouldBlock
            }
        }
    }

    /// Takes apart the frames in `raw` as far as they are there, copying data payloads into
    /// `buffer`; returns the bytes copied. A control frame is taken once it is whole.
    private func take(into buffer: UnsafeMutableRawBufferPointer, on socket: ClientTransport) throws(BrokerClientError) -> Int {
        guard let base = raw.baseAddress, let out = buffer.baseAddress else { return 0 }
        var copied = 0
        while copied < buffer.count, rawStart < rawEnd, !ended {
            if payloadLeft > 0 {
                let count = min(payloadLeft, rawEnd - rawStart, buffer.count - copied)
                (out + copied).copyMemory(from: base + rawStart, byteCount: count)
                copied += count
                rawStart += count
                payloadLeft -= count
                continue
            }
            guard let header = try frameHeader(at: base + rawStart, available: rawEnd - rawStart) else { break }
            switch header.opcode {
            case 0x0, 0x1, 0x2:
                rawStart += header.length
                payloadLeft = header.payload
            case 0x8, 0x9, 0xA:
                guard rawEnd - rawStart >= header.length + header.payload else { return copied }  // not whole yet
                let payload = UnsafeRawBufferPointer(start: base + rawStart + header.length, count: header.payload)
                rawStart += header.length + header.payload
                if header.opcode == 0x9 {
                    appendFrame(opcode: 0xA, payload)
                    do { _ = try flush(on: socket) } catch { throw BrokerClientError(error) }
                } else if header.opcode == 0x8 {
                    appendFrame(opcode: 0x8, UnsafeRawBufferPointer(rebasing: payload.prefix(2)))
                    _ = try? flush(on: socket)  // best effort: the server closes anyway
                    ended = true
                }
            default:
                throw .protocolViolation("a WebSocket frame with opcode \(header.opcode)")
            }
        }
        return copied
    }

    /// Moves the unread bytes to the front of `raw`.
    private func compact() {
        guard rawStart > 0, let base = raw.baseAddress else { return }
        base.copyMemory(from: base + rawStart, byteCount: rawEnd - rawStart)
        rawEnd -= rawStart
        rawStart = 0
    }

    /// The header at `start`: its length, opcode and payload length; nil while not all there.
    @inline(__always)
    private func frameHeader(at start: UnsafeMutableRawPointer, available: Int) throws(BrokerClientError)
        -> (length: Int, opcode: UInt8, payload: Int)? {
        guard available >= 2 else { return nil }
        let first = start.load(as: UInt8.self)
        let second = start.load(fromByteOffset: 1, as: UInt8.self)
        guard second & 0x80 == 0 else { throw .protocolViolation("a masked WebSocket frame from the server") }
        guard first & 0x70 == 0 else { throw .protocolViolation("a WebSocket frame with reserved bits set") }
        let opcode = first & 0x0F
        var length = 2
        var payload = Int(second & 0x7F)
        if payload == 126 {
            guard available >= 4 else { return nil }
            payload = Int(UInt16(bigEndian: start.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
            length = 4
        } else if payload == 127 {
            guard available >= 10 else { return nil }
            let value = UInt64(bigEndian: start.loadUnaligned(fromByteOffset: 2, as: UInt64.self))
            guard value <= UInt64(Int32.max) else { throw .protocolViolation("a WebSocket frame of \(value) bytes") }
            payload = Int(value)
            length = 10
        }
        if opcode >= 0x8, payload > 125 { throw .protocolViolation("a WebSocket control frame over 125 bytes") }
        return (length, opcode, payload)
    }
}
