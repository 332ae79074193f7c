// The WebSocket transport of a session (RFC 6455; PROTOCOL.md, "Transports"): the TCP byte stream, each server frame one WebSocket message.
import Glibc
import Posix
import Protocol

/// A ``Session`` carried by a WebSocket: the payloads of the client's data messages, in order,
/// are the bytes a TCP client would send; each frame the broker writes (a reply, a `MSG` with
/// its payload, `LAGGED`, `BYE`) goes out as one WebSocket message, text when it is valid UTF-8
/// and binary otherwise; after `BYE` a close frame follows and the connection closes.
///
/// Guarantees:
/// - Client frames are checked by ``WebSocketFrameParser`` (masking, opcodes, control frames,
///   fragmentation, UTF-8 of text messages, the message size limit); a violation is answered
///   with a close frame of its code (1002, 1007, 1009) and the connection closes.
/// - Pings get pongs, between messages; a client's close frame is answered with one.
/// - Output is cut into frames where ``ServerFrameSplitter`` says, in the protocol version the
///   frames were written in (``willSwitchVersion()`` frames what is queued before a `HELLO`
///   takes effect), and at most ``wireHighWater`` bytes of WebSocket frames are made ahead of
///   the socket: a slow client holds back its output queue exactly as a TCP one does.
/// - The last byte of a frame whose WebSocket form is not all written stays in the output
///   queue (``carried``): the queue is not empty, so the session neither closes nor gathers
///   more before it is out.
///
/// Loop thread only.
final class WebSocketSession: Session, ReactorHandler {
    /// Reads per readable event before giving other sessions a turn.
    static let readsPerTurn = 4
    /// The most bytes of WebSocket frames made ahead of what the socket took.
    static let wireHighWater = 64 * 1024

    /// The socket; closed when the session goes.
    let socket: SocketHandle
    /// The events the reactor currently watches this socket for.
    var interest: UInt32 = 0
    /// The loop's reactor. `unowned(unsafe)`: the loop owns it and closes every session first.
    unowned(unsafe) let reactor: Reactor
    /// The client's frames, read in pieces.
    private var parser: WebSocketFrameParser
    /// WebSocket frames to write, from `wireSent` on (the 101 response first).
    private var wire: [UInt8]
    private var wireSent = 0
    /// Bytes at the front of the output queue that belong to a frame already in `wire`
    /// (0 or 1): consumed once the wire has been written.
    private var carried = 0
    /// Client data that came while input was paused: fed when it resumes.
    private var heldInput: [UInt8] = []
    /// Set once a close frame is in `wire`: nothing is framed after it.
    private var closeFrameQueued = false
    /// A turn that feeds `heldInput`, once scheduled.
    private var resumeTimer: ReactorTimer?

    /// A session on an upgraded connection; `handshake` (the 101 response) is written first,
    /// then `early` (bytes the client sent after its request head) is read as WebSocket frames.
    init(socket: consuming SocketHandle, id: UInt64, token: ReactorToken, peer: String, reactor: Reactor,
         services: SessionServices, handshake: [UInt8]) {
        self.socket = socket
        self.reactor = reactor
        let settings = services.core.settings
        parser = WebSocketFrameParser(maxMessageBytes: WebSocketSession.messageLimit(maxLineBytes: settings.maxLineBytes,
                                                                                    maxPayloadBytes: settings.maxPayloadBytes))
        wire = handshake
        super.init(id: id, token: token.rawValue, peer: peer, services: services)
    }

    override var transportName: String { "websocket" }

    /// The largest client message: a line of `max_line_bytes`, or a `BPUB` line with its payload.
    static func messageLimit(maxLineBytes: Int, maxPayloadBytes: Int) -> Int {
        max(maxLineBytes, maxPayloadBytes + maxLineBytes + 2)
    }

    // MARK: - Reading

    func handleEvents(_ events: UInt32) {
        if state.isClosed { return }
        if events & EpollBits.writable != 0, wireSent < wire.count {
            do {
                _ = try flushWire()
            } catch {
                close(reason: .writeError(errno: error.errno))
                return
            }
        }
        guard handleReadEvents(events, read) else { return }
        // Writable: what the wire held is out; the queue (the carried byte, more frames) goes on.
        if events & EpollBits.writable != 0, !state.isClosed { services.scheduler.markDirty(self) }
    }

    /// Bytes early in the connection (sent with the request head) are read as frames.
    func receiveEarly(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        var copy = bytes
        copy.withUnsafeMutableBytes { feed($0) }
    }

    private func read() {
        readSocket(socket, reads: WebSocketSession.readsPerTurn) { chunk in
            feed(chunk)
            if case .reading = state { return true }
            return false
        }
    }

    /// Runs the client's frames; data goes to the session (or is held while input is paused).
    private func feed(_ bytes: UnsafeMutableRawBufferPointer) {
        do throws(WebSocketFailure) {
            try parser.feed(bytes) { event in
                switch event {
                case let .data(data):
                    if case .reading = state, heldInput.isEmpty {
                        receive(data)
                    } else if !state.isEnding {
                        heldInput.append(contentsOf: data)  // paused: goes on when input resumes
                    }
                case let .ping(payload):
                    guard !closeFrameQueued else { return }
                    WebSocketFrameEncoder.appendPong(payload, to: &wire)
                    writeWireNow()
                case .pong:
                    break
                case let .close(code, _):
                    // The client is done: answer its close (with its code when it gave one) and close.
                    if !closeFrameQueued {
                        WebSocketFrameEncoder.appendClose(code: code ?? 1000, reason: "", to: &wire)
                        closeFrameQueued = true
                    }
                    close(reason: .peerClosed)
                }
            }
        } catch {
            if !closeFrameQueued {
                WebSocketFrameEncoder.appendClose(code: error.closeCode, reason: error.reason, to: &wire)
                closeFrameQueued = true
            }
            services.core.logger.info("WebSocket closed with \(error.closeCode): \(error.reason)", connection: id, peer: peer)
            close(reason: .webSocket(code: error.closeCode))
        }
    }

    /// Feeds what was held while input was paused (a turn after input resumed).
    private func feedHeldInput() {
        resumeTimer = nil
        guard case .reading = state, !heldInput.isEmpty else { return }
        let held = heldInput
        heldInput = []
        held.withUnsafeBytes { receive($0) }
    }

    // MARK: - Writing

    override func transportWrite(_ output: inout OutputQueue) throws(SystemError) -> IOResult<Int> {
        // What was framed before goes first; the queue waits behind it.
        guard try flushWire() else { return .wouldBlock }
        let buffers = services.buffers
        let version = Int(protocolVersion)
        return try output.write(vectors: buffers.vectors, staging: buffers.staging) { pieces throws(SystemError) -> IOResult<Int> in
            // Framed into the loop's scratch and written from there: only what the socket does
            // not take is kept by the session.
            buffers.webSocketOut.removeAll(keepingCapacity: true)
            let framed = frame(pieces, version: version, limit: WebSocketSession.wireHighWater,
                               stream: &buffers.webSocketStream, into: &buffers.webSocketOut)
            guard framed > 0 else { return .done(0) }
            let sent = try send(buffers.webSocketOut)
            if sent == buffers.webSocketOut.count {
                carried = 0
                return .done(framed)
            }
            wire = Array(buffers.webSocketOut[sent...])
            wireSent = 0
            carried = 1  // the last frame is not all out: its last byte keeps the queue from being empty
            return .done(framed - 1)
        }
    }

    /// Before a `HELLO` changes the framing of what is written next: everything queued now is
    /// framed, into the wire, in the version it was written in.
    override func willSwitchVersion() {
        let buffers = services.buffers
        let version = Int(protocolVersion)
        while !output.isEmpty {
            let outcome: IOResult<Int>? = try? output.write(vectors: buffers.vectors, staging: buffers.staging) {
                pieces throws(SystemError) -> IOResult<Int> in
                let framed = frame(pieces, version: version, limit: .max, stream: &buffers.webSocketStream, into: &wire)
                guard framed > carried else { return .done(0) }
                let keep = framed > 1 ? 1 : 0
                carried = keep
                return .done(framed - keep)
            }
            guard case let .done(count)? = outcome, count > 0 else { break }
        }
    }

    /// Cuts the front of the queue (`pieces`, after the `carried` bytes already framed) into
    /// server frames (copied into `stream`, a scratch) and appends each to `out` as one
    /// WebSocket message, while `out` holds less than `limit` bytes. Returns the queue bytes
    /// framed, the carried ones included.
    private func frame(_ pieces: UnsafeBufferPointer<iovec>, version: Int, limit: Int,
                       stream: inout [UInt8], into out: inout [UInt8]) -> Int {
        guard !closeFrameQueued else { return 0 }
        stream.removeAll(keepingCapacity: true)
        var skip = carried
        var framed = carried
        var offset = 0  // start of the next frame in `stream`
        for piece in pieces {
            guard let base = piece.iov_base else { continue }
            var bytes = UnsafeRawBufferPointer(start: base, count: piece.iov_len)
            if skip > 0 {
                let skipped = min(skip, bytes.count)
                bytes = UnsafeRawBufferPointer(rebasing: bytes[skipped...])
                skip -= skipped
            }
            stream.append(contentsOf: bytes)
            // Whole frames so far become messages.
            while out.count < limit, let length = stream.withUnsafeBytes({ all in
                ServerFrameSplitter.firstFrameLength(in: UnsafeRawBufferPointer(rebasing: all[offset...]), version: version)
            }) {
                stream.withUnsafeBytes { all in
                    WebSocketFrameEncoder.appendMessage(UnsafeRawBufferPointer(rebasing: all[offset..<(offset + length)]), to: &out)
                }
                offset += length
                framed += length
            }
            if out.count >= limit { break }
        }
        return framed
    }

    /// Sends `bytes` as far as the socket takes them; returns how many it took.
    private func send(_ bytes: [UInt8], from start: Int = 0) throws(SystemError) -> Int {
        var sent = start
        while sent < bytes.count {
            let result: Result<IOResult<Int>, SystemError> = bytes.withUnsafeBytes { all in
                Result { () throws(SystemError) in try socket.send(UnsafeRawBufferPointer(rebasing: all[sent...])) }
            }
            guard case let .done(count) = try result.get() else { break }
            sent += count
        }
        return sent
    }

    /// Writes what the wire holds (frames the socket did not take, pongs, the close); true
    /// when all of it is out.
    private func flushWire() throws(SystemError) -> Bool {
        guard wireSent < wire.count else { return true }
        wireSent = try send(wire, from: wireSent)
        guard wireSent == wire.count else { return false }
        wire = []  // an idle connection holds no buffer
        wireSent = 0
        return true
    }

    /// Writes a control frame (a pong) at once, or watches for writability.
    private func writeWireNow() {
        do {
            _ = try flushWire()
        } catch {
            close(reason: .writeError(errno: error.errno))
            return
        }
        updateInterest()
    }

    override func transportWatch(reading: Bool, writing: Bool) throws(SystemError) {
        var wanted: UInt32 = 0
        if reading { wanted |= EpollBits.readable | EpollBits.readHangup }
        if writing || wireSent < wire.count { wanted |= EpollBits.writable }
        if reading, !heldInput.isEmpty, resumeTimer == nil {
            // Input resumed with data held: it is fed on the next turn (not from inside this call).
            resumeTimer = reactor.addTimer(at: monotonicMilliseconds()) { [weak self] in self?.feedHeldInput() }
        }
        guard wanted != interest else { return }
        try reactor.modify(socket.fd, token: ReactorToken(rawValue: token), events: wanted)
        interest = wanted
    }

    override func transportClose() {
        if let resumeTimer { reactor.cancelTimer(resumeTimer) }
        resumeTimer = nil
        // The close frame follows whatever was written (BYE included); then the connection ends.
        if !closeFrameQueued {
            WebSocketFrameEncoder.appendClose(code: 1000, reason: "", to: &wire)
            closeFrameQueued = true
        }
        _ = try? flushWire()  // best effort: the socket closes with the session
        reactor.deregister(socket.fd, token: ReactorToken(rawValue: token))
    }
}
