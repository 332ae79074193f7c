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
/// - Pings get pongs, after what is queued; a client's close frame is answered with one.
/// - The output queue holds WebSocket messages (``OutputQueue/carriesWebSocket``): replies
///   are wrapped as they are queued, and a message's frame is shared with every other
///   subscriber as on TCP, behind a header of its own (``DeliveryScheduler``). So a write
///   sends the queue as TCP does, a slow client holds back its queue exactly as a TCP one
///   does, and a `HELLO` changes the framing of what is queued after it only.
/// - A close frame never cuts a message: it is sent only when the write stopped between
///   pieces the queue was given whole.
///
/// Loop thread only.
final class WebSocketSession: Session, ReactorHandler {
    /// Reads per readable event before giving other sessions a turn.
    static let readsPerTurn = 4

    /// The socket; closed when the session goes.
    let socket: SocketHandle
    /// The events the reactor currently watches this socket for.
    var interest: UInt32 = 0
    /// The loop's reactor. `unowned(unsafe)`: the loop owns it and closes every session first.
    unowned(unsafe) let reactor: Reactor
    /// The client's frames, read in pieces.
    private var parser: WebSocketFrameParser
    /// Client data that came while input was paused: fed when it resumes.
    private var heldInput: [UInt8] = []
    /// The close frame sent when the session closes (a normal closure unless a failure or
    /// the client's own close said otherwise).
    private var closeCode: UInt16 = 1000
    private var closeReason = ""
    /// Whether the last write stopped inside a piece of the queue (then no close frame may follow).
    private var wroteMidPiece = false
    /// A turn that feeds `heldInput`, once scheduled.
    private var resumeTimer: ReactorTimer?
    /// TLS under the WebSocket (`wss://`, the HTTPS listener): established before the upgrade.
    let tls: TLSLink?

    /// A session on an upgraded connection; `handshake` (the 101 response) is written first,
    /// then `early` (bytes the client sent after its request head) is read as WebSocket frames.
    init(socket: consuming SocketHandle, id: UInt64, token: ReactorToken, peer: String, reactor: Reactor,
         services: SessionServices, handshake: [UInt8], tls: TLSLink? = nil) {
        self.tls = tls
        self.socket = socket
        self.reactor = reactor
        let settings = services.core.settings
        parser = WebSocketFrameParser(maxMessageBytes: WebSocketSession.messageLimit(maxLineBytes: settings.maxLineBytes,
                                                                                    maxPayloadBytes: settings.maxPayloadBytes))
        super.init(id: id, token: token.rawValue, peer: peer, services: services)
        output.carriesWebSocket = true
        // A new socket takes the response at once; only what it did not take is queued (so
        // the queue's reply buffer is not sized by the response for the connection's life).
        let sent: Int
        do {
            let result: Result<IOResult<Int>, SystemError> = handshake.withUnsafeBytes { bytes in
                Result { () throws(SystemError) in
                    if let tls { return try tls.write(bytes) }
                    return try self.socket.send(bytes)
                }
            }
            if case let .done(count) = try result.get() { sent = count } else { sent = 0 }
        } catch {
            sent = 0  // the queued response's write meets the error and closes the session
        }
        if sent < handshake.count { output.appendTransportBytes { $0.append(contentsOf: handshake[sent...]) } }
    }

    override var transportName: String { tls == nil ? "websocket" : "wss" }

    /// The largest client message: a line of `max_line_bytes`, or a `BPUB` line with its payload.
    static func messageLimit(maxLineBytes: Int, maxPayloadBytes: Int) -> Int {
        max(maxLineBytes, maxPayloadBytes + maxLineBytes + 2)
    }

    // MARK: - Reading

    func handleEvents(_ events: UInt32) {
        if state.isClosed { return }
        if let tls {
            handleTLSEvents(events, tls, read)
            return
        }
        guard handleReadEvents(events, read) else { return }
        if events & EpollBits.writable != 0, !state.isClosed { services.scheduler.markDirty(self) }
    }

    /// Bytes early in the connection (sent with the request head) are read as frames.
    func receiveEarly(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        var copy = bytes
        copy.withUnsafeMutableBytes { feed($0) }
    }

    private func read(_ peerHungUp: Bool) {
        let take = { (chunk: UnsafeMutableRawBufferPointer) -> Bool in
            self.feed(chunk)
            if case .reading = self.state { return true }
            return false
        }
        if let tls {
            readTLS(tls, reads: WebSocketSession.readsPerTurn, reactor: reactor, take)
        } else {
            readSocket(socket, reads: WebSocketSession.readsPerTurn, peerHungUp: peerHungUp, take)
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
                    guard !state.isEnding else { return }
                    output.appendTransportBytes { WebSocketFrameEncoder.appendPong(payload, to: &$0) }
                    services.scheduler.markDirty(self)
                case .pong:
                    break
                case let .close(code, _):
                    // The client is done: answer its close (with its code when it gave one) and close.
                    closeCode = code ?? 1000
                    close(reason: .peerClosed)
                }
            }
        } catch {
            closeCode = error.closeCode
            closeReason = error.reason
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
        _ = held.withUnsafeBytes { receive($0) }
    }

    // MARK: - Writing

    override func transportWrite(_ output: inout OutputQueue) throws(SystemError) -> IOResult<Int> {
        // The queue already holds WebSocket messages: written as TCP writes its queue.
        let outcome: IOResult<Int>
        if let tls {
            outcome = try writeTLS(tls, &output)
        } else {
            let buffers = services.buffers
            outcome = try output.write(vectors: buffers.vectors, staging: buffers.staging) { pieces throws(SystemError) in
                try socket.send(pieces: pieces)
            }
        }
        wroteMidPiece = !output.startsAtPieceBoundary
        return outcome
    }

    override func transportWatch(reading: Bool, writing: Bool) throws(SystemError) {
        var wanted: UInt32 = 0
        if let tls {
            wanted = tls.events(reading: reading, writing: writing)
            if reading { readBufferedTLS(tls, reactor: reactor) }
        } else {
            if reading { wanted |= EpollBits.readable | EpollBits.readHangup }
            if writing { wanted |= EpollBits.writable }
        }
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
        // The close frame follows whatever was written (BYE included), unless the last write
        // stopped inside a message; then the connection ends. Best effort: the socket closes
        // with the session.
        if !wroteMidPiece {
            var frame: [UInt8] = []
            WebSocketFrameEncoder.appendClose(code: closeCode, reason: closeReason, to: &frame)
            if let tls {
                _ = frame.withUnsafeBytes { try? tls.write($0) }
            } else {
                socket.sendFinalFrame(frame)
            }
        }
        tls?.close(reactor: reactor)
        reactor.deregister(socket.fd, token: ReactorToken(rawValue: token))
    }
}
