// A raw-TCP client that reads broker frames of either version, sized version 2 MSG frames included.
import Foundation
import Glibc
import Protocol
import Testing

/// One frame from the broker, owning its bytes. A version 1 `MSG` has no sequence.
enum Frame: Equatable, CustomStringConvertible {
    case ok(String?)
    case err(code: String, text: String)
    case pong(String?)
    case msg(topic: String, seq: UInt64?, payload: [UInt8])
    case lagged(topic: String, count: UInt64)
    case bye(code: String, text: String)

    var description: String {
        switch self {
        case let .ok(rest): rest.map { "OK \($0)" } ?? "OK"
        case let .err(code, text): "ERR \(code) \(text)"
        case let .pong(token): token.map { "PONG \($0)" } ?? "PONG"
        case let .msg(topic, seq, payload):
            "MSG \(topic)\(seq.map { " \($0)" } ?? "") [\(payload.count) bytes: \(String(decoding: payload.prefix(40), as: UTF8.self).debugDescription)]"
        case let .lagged(topic, count): "LAGGED \(topic) \(count)"
        case let .bye(code, text): "BYE \(code) \(text)"
        }
    }

    /// The error code of an `ERR`, or nil.
    var errCode: String? {
        if case let .err(code, _) = self { return code }
        return nil
    }

    /// The payload of a `MSG` as text (lossy), or nil.
    var text: String? {
        if case let .msg(_, _, payload) = self { return String(decoding: payload, as: UTF8.self) }
        return nil
    }

    /// `OK <epoch> <head>`: a version 2 SUB reply for a concrete topic.
    var subscribeReply: (epoch: String, head: UInt64)? {
        guard case let .ok(rest?) = self, let position = ServerFrameParser.subscribeReply(Array(rest.utf8)) else { return nil }
        return (String(decoding: position.epoch, as: UTF8.self), position.seq)
    }

    /// `OK <n> <epoch>:<seq>`: a version 2 PUB/BPUB reply.
    var publishReply: (count: UInt64, epoch: String, seq: UInt64)? {
        guard case let .ok(rest?) = self, let reply = ServerFrameParser.publishReply(Array(rest.utf8)) else { return nil }
        return (reply.count, String(decoding: reply.position.epoch, as: UTF8.self), reply.position.seq)
    }
}

/// A blocking client that reads frames with `LineFramer` (`.readPayload` for sized frames)
/// and `ServerFrameParser.parse(_:version:)`. It follows the connection's version: after
/// ``hello(_:)`` the frames after the `OK` reply are parsed in the new version.
///
/// Used from one thread at a time, except that ``send(_:)`` may be called from another
/// thread while one reads (a socket may be written and read at once).
final class FrameClient {
    /// The connection (used only to connect, send and close; never to read lines).
    let socket: TestClient
    /// The version frames are parsed in now.
    private(set) var version = 1
    private var framer = LineFramer(maxLineBytes: 4 << 20)
    private var queue: [Frame] = []
    private var queueHead = 0
    /// The line of a version 2 MSG whose payload is being read.
    private var pendingHeader: (topic: String, seq: UInt64)?
    /// A HELLO sent and not yet answered: its `OK` switches the parser.
    private var awaitingHello: Int?
    private var failure: String?
    private var atEOF = false
    /// Total bytes received (for diagnostics).
    private(set) var bytesReceived = 0
    /// How many bytes one `recv` asks for (small values exercise framing across reads).
    var chunkSize = 65536

    init(port: Int, receiveBuffer: Int32? = nil) throws {
        socket = try TestClient(port: port, receiveBuffer: receiveBuffer)
        var on: Int32 = 1
        _ = setsockopt(socket.fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
    }

    // MARK: Writing

    func send(_ line: String) throws { try socket.send(line) }
    func sendRaw(_ text: String) throws { try socket.sendRaw(text) }
    func sendBytes(_ bytes: [UInt8]) throws { try socket.sendBytes(bytes) }

    /// Sends `BPUB <topic> <size>`, the payload and LF as one write.
    func sendBPUB(_ topic: String, _ payload: [UInt8], ending: String = "\n") throws {
        try sendBytes(Array("BPUB \(topic) \(payload.count)\n".utf8) + payload + Array(ending.utf8))
    }

    /// Ends the connection from this side at once (a subscriber that is killed).
    func kill() { _ = Glibc.shutdown(socket.fd, Int32(SHUT_RDWR)) }

    // MARK: Reading

    /// The next frame, or nil at end of file. Throws when the guard time passes or a line is not a frame.
    func next() throws -> Frame? {
        while true {
            if queueHead < queue.count {
                let frame = queue[queueHead]
                queueHead += 1
                if queueHead == queue.count { queue.removeAll(keepingCapacity: true); queueHead = 0 }
                return frame
            }
            if let failure { throw ClientError(failure) }
            if atEOF { return nil }
            try receive()
        }
    }

    /// The next frame; end of file is a failure.
    func frame() throws -> Frame {
        guard let frame = try next() else { throw ClientError("end of file instead of a frame") }
        return frame
    }

    /// Sends one command and returns the next frame (its reply, when nothing else is owed).
    func request(_ line: String) throws -> Frame {
        try send(line)
        return try frame()
    }

    /// Unasked frames (`MSG`, `LAGGED`) that ``command(_:)`` read past, in order.
    var unasked: [Frame] = []

    /// Sends one command and returns its reply, keeping the `MSG` and `LAGGED` frames that
    /// arrive before it in ``unasked``.
    func command(_ line: String) throws -> Frame {
        try send(line)
        while true {
            let frame = try self.frame()
            switch frame {
            case .msg, .lagged: unasked.append(frame)
            default: return frame
            }
        }
    }

    /// `HELLO <version>`, expecting `OK <version>`; frames after that reply are parsed in it.
    func hello(_ version: Int = 2, sourceLocation: SourceLocation = #_sourceLocation) throws {
        awaitingHello = version
        let reply = try request("HELLO \(version)")
        #expect(reply == .ok("\(version)"), sourceLocation: sourceLocation)
    }

    /// The next `count` frames.
    func take(_ count: Int) throws -> [Frame] { try (0..<count).map { _ in try frame() } }

    /// Arms the parser for the reply to a `HELLO <version>` sent with ``send(_:)``: frames after
    /// its `OK` are parsed in that version.
    func expectHello(_ version: Int) { awaitingHello = version }

    /// Sends `PING <token>` and returns every frame before its `PONG <token>`. (A barrier for
    /// replies only: a MSG owed before it may still come after it.)
    @discardableResult
    func barrier(_ token: String = "barrier") throws -> [Frame] {
        try send("PING \(token)")
        return try frames(untilPong: token)
    }

    /// The frames before `PONG <token>` (which is consumed).
    func frames(untilPong token: String) throws -> [Frame] {
        var before: [Frame] = []
        while true {
            let frame = try self.frame()
            if frame == .pong(token) { return before }
            before.append(frame)
        }
    }

    /// Expects end of file next (after any frames, which are returned).
    func framesUntilEOF() throws -> [Frame] {
        var frames: [Frame] = []
        while let frame = try next() { frames.append(frame) }
        return frames
    }

    private func receive() throws {
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        let count = chunk.withUnsafeMutableBytes { recv(socket.fd, $0.baseAddress, $0.count, 0) }
        if count == 0 { atEOF = true; return }
        if count < 0 {
            if errno == EINTR { return }
            if errno == EAGAIN || errno == EWOULDBLOCK { throw ClientError("no frame within \(ioGuardSeconds) s") }
            if errno == ECONNRESET { atEOF = true; return }
            throw ClientError("recv: errno \(errno)")
        }
        bytesReceived += count
        chunk.withUnsafeBytes { raw in
            framer.feed(UnsafeRawBufferPointer(rebasing: raw[0..<count])) { event in self.handle(event) }
        }
    }

    private func handle(_ event: FramerEvent) -> FramerDecision {
        switch event {
        case let .line(line):
            let view: ServerFrameView
            do { view = try ServerFrameParser.parse(line, version: version) } catch {
                failure = "not a frame: \(error)"
                return .pause
            }
            switch view {
            case let .msgHeader(topic, seq, size):
                pendingHeader = (String(decoding: topic, as: UTF8.self), seq)
                return .readPayload(Int(size))
            default:
                let frame = Frame(view)
                if let awaited = awaitingHello, frame.errCode != nil || frame == .ok("\(awaited)") {
                    if frame == .ok("\(awaited)") { version = awaited }
                    awaitingHello = nil
                }
                queue.append(frame)
                return .proceed
            }
        case let .payload(payload):
            guard let header = pendingHeader else { failure = "payload without header"; return .pause }
            pendingHeader = nil
            queue.append(.msg(topic: header.topic, seq: header.seq, payload: Array(payload)))
            return .proceed
        case .lineTooLong:
            failure = "a line from the broker passed 4 MiB"
            return .pause
        case .payloadSkipped:
            return .proceed
        case .badFraming:
            failure = "a MSG payload was not followed by LF"
            return .pause
        }
    }
}

private extension Frame {
    init(_ view: ServerFrameView) {
        func text(_ bytes: UnsafeRawBufferPointer) -> String { String(decoding: bytes, as: UTF8.self) }
        switch view {
        case let .ok(rest): self = .ok(rest.map(text))
        case let .err(code, message): self = .err(code: text(code), text: text(message))
        case let .pong(token): self = .pong(token.map(text))
        case let .msg(topic, payload): self = .msg(topic: text(topic), seq: nil, payload: Array(payload))
        case let .msgHeader(topic, seq, _): self = .msg(topic: text(topic), seq: seq, payload: [])  // not reached
        case let .lagged(topic, count): self = .lagged(topic: text(topic), count: count)
        case let .bye(code, message): self = .bye(code: text(code), text: text(message))
        }
    }
}

extension InProcessBroker {
    /// A frame client connected to this broker, switched to `version`.
    func frameClient(version: Int = 2, receiveBuffer: Int32? = nil) throws -> FrameClient {
        let client = try FrameClient(port: port, receiveBuffer: receiveBuffer)
        if version != 1 { try client.hello(version) }
        return client
    }
}

extension BrokerProcess {
    func frameClient(version: Int = 2) throws -> FrameClient {
        let client = try FrameClient(port: port)
        if version != 1 { try client.hello(version) }
        return client
    }
}

/// The `key=value` fields of a `STATS <topic>` reply, or nil for `ERR no-such-topic`.
func topicStats(_ client: FrameClient, _ topic: String) throws -> [String: String]? {
    let reply = try client.request("STATS \(topic)")
    if reply.errCode == "no-such-topic" { return nil }
    guard case let .ok(rest?) = reply else { throw ClientError("STATS \(topic): \(reply)") }
    var fields: [String: String] = [:]
    for field in rest.split(separator: " ") {
        guard let equals = field.firstIndex(of: "=") else { continue }
        fields[String(field[..<equals])] = String(field[field.index(after: equals)...])
    }
    return fields
}

/// Polls `condition` (each poll ends with a PING barrier on `client`), pausing `pauseMs`
/// between polls so as not to flood the broker, until it holds or `guardSeconds` pass.
/// Returns the time it took, or nil if it never held.
func poll(_ client: FrameClient, guardSeconds: Double = 10, pauseMs: UInt32 = 10,
          until condition: () throws -> Bool) throws -> Duration? {
    let start = ContinuousClock.now
    let deadline = start + .milliseconds(Int(guardSeconds * 1000))
    while ContinuousClock.now < deadline {
        if try condition() { return ContinuousClock.now - start }
        try client.barrier("poll")
        usleep(pauseMs * 1000)
    }
    return nil
}

/// Digits of `n` as bytes.
func digits(_ n: Int) -> [UInt8] { Array(String(n).utf8) }

/// `[0-9a-z]`, 1 to 32 characters.
func isValidEpoch(_ epoch: String) -> Bool {
    (1...32).contains(epoch.utf8.count) && epoch.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x7A).contains($0) }
}
