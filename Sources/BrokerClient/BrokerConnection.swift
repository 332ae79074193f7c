// One connection to the broker: connect, request/reply commands, and reading unasked frames.
import Posix
import Protocol

/// A connection to a broker, used from one thread at a time.
///
/// Commands (``publish(topic:payload:)``, ``subscribe(_:)``, ``ping()``...) send one
/// line and wait for its reply. Frames that arrive unasked while a reply is awaited
/// (`MSG`, `LAGGED`) are kept, in order, and handed out by ``nextEvent(beforeBlocking:)``.
/// For many messages at once, use ``publishPipelined(topic:maxInFlight:produce:onReply:)``.
///
/// The connection is not `Sendable`: it belongs to the thread that uses it. To stop
/// a thread blocked in a read from elsewhere, take a ``Canceller`` first.
///
/// ```swift
/// let connection = try BrokerConnection(to: Endpoint(host: "127.0.0.1", port: 7400))
/// let receivers = try connection.publish(topic: "orders.eu", payload: Array("hello".utf8))
/// ```
public final class BrokerConnection {
    /// Where this connection goes.
    public let endpoint: Endpoint
    /// The socket; closed when the connection and every canceller are gone.
    let socket: ConnectionSocket
    /// Splits the broker's bytes into lines.
    var framer = LineFramer(maxLineBytes: BrokerConnection.maxFrameBytes)
    /// Frames read but not yet handed out, from `frameHead` on.
    var frames: [ServerFrame] = []
    /// Index of the next frame in `frames` to hand out.
    var frameHead = 0
    /// Unasked frames that arrived while a reply was awaited.
    var unasked: [ServerFrame] = []
    /// Index of the next frame in `unasked` to hand out.
    var unaskedHead = 0
    /// The read buffer (one allocation for the connection's life).
    var readBuffer: UnsafeMutableRawBufferPointer
    /// True once the broker's end of file was read.
    var reachedEnd = false

    /// The longest broker line accepted (a `MSG` of a maximal `PUB`, with room to spare).
    static let maxFrameBytes = 1 << 20

    /// Connects, waiting at most `timeout` for the broker to accept, then, when `token`
    /// is given, authenticates with `AUTH <token>` (waiting at most `timeout` for its reply)
    /// before anything else is sent.
    ///
    /// Throws ``BrokerClientError/cannotConnect(address:reason:)`` with the system's text,
    /// and ``BrokerClientError/authenticationFailed`` when the broker refuses the token.
    /// A broker without a configured token accepts any `AUTH`.
    public init(to endpoint: Endpoint, timeout: Duration = .seconds(5), token: String? = nil) throws(BrokerClientError) {
        self.endpoint = endpoint
        self.socket = try ConnectionSocket.connect(to: endpoint, timeout: timeout)
        self.readBuffer = .allocate(byteCount: 256 * 1024, alignment: 16)
        if let token { try authenticate(token, timeout: timeout) }
    }

    deinit { readBuffer.deallocate() }

    /// A handle that may stop this connection from any thread.
    public struct Canceller: Sendable {
        let socket: ConnectionSocket
        /// Shuts the socket down: a blocked read in the owning thread returns as if the
        /// broker had closed the connection. Safe to call any number of times, from any thread.
        public func cancel() { socket.shutdown() }
    }

    /// A ``Canceller`` for this connection.
    public var canceller: Canceller { Canceller(socket: socket) }

    // MARK: Commands

    /// Publishes one message and waits for its reply.
    /// Returns the number of subscriptions it was queued for (`OK <n>`).
    /// Throws ``BrokerClientError/refused(_:)`` when the broker answers `ERR`.
    @discardableResult
    public func publish(topic: some Collection<UInt8>, payload: some Collection<UInt8>) throws(BrokerClientError) -> Int {
        var line: [UInt8] = []
        WireEncoder.appendPub(topic: topic, payload: payload, to: &line)
        let rest = try request(line)
        guard let rest else { return 0 }
        guard let count = rest.withUnsafeBytes({ ServerFrameParser.parseDecimal($0) }) else {
            throw .protocolViolation("PUB reply 'OK \(String(decoding: rest, as: UTF8.self))'")
        }
        return Int(clamping: count)
    }

    /// Publishes one text message; see ``publish(topic:payload:)``.
    @discardableResult
    public func publish(topic: String, _ text: String) throws(BrokerClientError) -> Int {
        try publish(topic: Array(topic.utf8), payload: Array(text.utf8))
    }

    /// Subscribes to a topic or pattern; active when this returns.
    public func subscribe(_ pattern: String) throws(BrokerClientError) {
        var line: [UInt8] = []
        WireEncoder.appendSub(pattern.utf8, to: &line)
        _ = try request(line)
    }

    /// Ends the subscription made with exactly this string.
    public func unsubscribe(_ pattern: String) throws(BrokerClientError) {
        var line: [UInt8] = []
        WireEncoder.appendUnsub(pattern.utf8, to: &line)
        _ = try request(line)
    }

    /// Sends `PING` and returns the time until its `PONG`; throws
    /// ``BrokerClientError/timedOut(_:)`` if none came within `timeout` (nil: wait for ever).
    @discardableResult
    public func ping(timeout: Duration? = nil) throws(BrokerClientError) -> Duration {
        var line: [UInt8] = []
        WireEncoder.appendPing(to: &line)
        let start = ContinuousClock.now
        let deadline = timeout.map { start.advanced(by: $0) }
        try send(line)
        while true {
            guard let frame = try nextFrame(beforeBlocking: {}, deadline: deadline) else { throw .closed }
            switch frame {
            case .pong: return start.duration(to: .now)
            case .msg, .lagged: stash(frame)
            case let .bye(code, text): throw .bye(code: code, text: text)
            case let .err(code, text): throw .refused(ProtocolError(code, text))
            case .ok: throw .protocolViolation("OK in answer to PING")
            case .msgHeader: throw .protocolViolation("a version 2 MSG on a version 1 connection")
            }
        }
    }

    /// Sends `AUTH <token>` and waits up to `timeout` for its reply.
    ///
    /// `ERR auth-failed` (or the `BYE auth-failed` after it) becomes
    /// ``BrokerClientError/authenticationFailed``; a token that is empty or holds a
    /// space or control character is refused here, without being sent.
    public func authenticate(_ token: String, timeout: Duration? = nil) throws(BrokerClientError) {
        guard !token.isEmpty, token.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
            throw .invalidToken
        }
        var line: [UInt8] = []
        WireEncoder.appendAuth(token.utf8, to: &line)
        let deadline = timeout.map { ContinuousClock.now.advanced(by: $0) }
        try send(line)
        while true {
            guard let frame = try nextFrame(beforeBlocking: {}, deadline: deadline) else { throw .closed }
            switch frame {
            case .ok: return
            case let .err(code, _) where code == .authFailed: throw .authenticationFailed
            case let .bye(code, _) where code == .authFailed: throw .authenticationFailed
            case let .err(code, text): throw .refused(ProtocolError(code, text))
            case let .bye(code, text): throw .bye(code: code, text: text)
            case .msg, .lagged: stash(frame)
            case .pong: throw .protocolViolation("PONG in answer to AUTH")
            case .msgHeader: throw .protocolViolation("a version 2 MSG on a version 1 connection")
            }
        }
    }

    /// Sends `QUIT`, waits for its `OK`, and lets the broker close.
    public func quit() throws(BrokerClientError) {
        var line: [UInt8] = []
        WireEncoder.appendQuit(to: &line)
        _ = try request(line)
    }

    // MARK: Unasked frames

    /// The next message, lag report or `BYE`; nil when the broker closed the connection.
    ///
    /// `beforeBlocking` runs each time no frame is at hand and the call is about to
    /// wait for the network: the place to flush buffered output.
    public func nextEvent(beforeBlocking: () -> Void = {}) throws(BrokerClientError) -> BrokerEvent? {
        if unaskedHead < unasked.count {
            let frame = unasked[unaskedHead]
            unaskedHead += 1
            if unaskedHead == unasked.count { unasked.removeAll(keepingCapacity: true); unaskedHead = 0 }
            return try event(frame)
        }
        guard let frame = try nextFrame(beforeBlocking: beforeBlocking) else { return nil }
        return try event(frame)
    }

    /// Converts an unasked frame; a reply here answers nothing that was asked.
    private func event(_ frame: ServerFrame) throws(BrokerClientError) -> BrokerEvent {
        switch frame {
        case let .msg(topic, payload): return .message(Message(topic: String(decoding: topic, as: UTF8.self), payload: payload))
        case let .lagged(topic, count): return .lagged(topic: String(decoding: topic, as: UTF8.self), count: count)
        case let .bye(code, text): return .bye(code: code, text: text)
        case .ok, .err, .pong: throw .protocolViolation("a reply that answers no command")
        case .msgHeader: throw .protocolViolation("a version 2 MSG on a version 1 connection")
        }
    }

    /// Like ``nextEvent(beforeBlocking:)``, but waits no later than `deadline`:
    /// throws ``BrokerClientError/timedOut(_:)`` when it passes with no frame at hand.
    public func nextEvent(until deadline: ContinuousClock.Instant, beforeBlocking: () -> Void = {}) throws(BrokerClientError) -> BrokerEvent? {
        if unaskedHead < unasked.count { return try nextEvent(beforeBlocking: beforeBlocking) }
        guard let frame = try nextFrame(beforeBlocking: beforeBlocking, deadline: deadline) else { return nil }
        return try event(frame)
    }

    // MARK: Internals

    /// Sends one command line and waits for its reply: the text after `OK`, or throws for `ERR`.
    func request(_ line: [UInt8]) throws(BrokerClientError) -> [UInt8]? {
        try send(line)
        while true {
            guard let frame = try nextFrame(beforeBlocking: {}) else { throw .closed }
            switch frame {
            case let .ok(rest): return rest
            case let .err(code, text): throw .refused(ProtocolError(code, text))
            case .msg, .lagged: stash(frame)
            case let .bye(code, text): throw .bye(code: code, text: text)
            case .pong: throw .protocolViolation("PONG in answer to a command")
            case .msgHeader: throw .protocolViolation("a version 2 MSG on a version 1 connection")
            }
        }
    }

    /// Keeps an unasked frame for ``nextEvent(beforeBlocking:)``.
    func stash(_ frame: ServerFrame) { unasked.append(frame) }

    /// Writes all of `bytes`.
    func send(_ bytes: [UInt8]) throws(BrokerClientError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(BrokerClientError) in try socket.writeAll(raw) }
        }
        try result.get()
    }

    /// The next frame in arrival order, reading as needed; nil at the broker's end of file.
    /// Throws ``BrokerClientError/timedOut(_:)`` when `deadline` passes first.
    func nextFrame(beforeBlocking: () -> Void, deadline: ContinuousClock.Instant? = nil) throws(BrokerClientError) -> ServerFrame? {
        while frameHead == frames.count {
            frames.removeAll(keepingCapacity: true)
            frameHead = 0
            if reachedEnd { return nil }
            switch try socket.read(into: readBuffer) {
            case .done(0):
                reachedEnd = true
            case let .done(count):
                try ingest(count) { frames.append(ServerFrame($0)) }
            case .wouldBlock:
                beforeBlocking()
                if try socket.wait(for: .readable, until: deadline).isEmpty {
                    throw .timedOut("waiting for the broker's reply")
                }
            }
        }
        let frame = frames[frameHead]
        frameHead += 1
        return frame
    }

    /// Frames the first `count` bytes of the read buffer and hands each parsed frame to `body`.
    func ingest(_ count: Int, _ body: (ServerFrameView) -> Void) throws(BrokerClientError) {
        var failure: BrokerClientError?
        framer.feed(UnsafeRawBufferPointer(rebasing: readBuffer[0..<count])) { event in
            switch event {
            case .lineTooLong:
                failure = .protocolViolation("a line longer than \(BrokerConnection.maxFrameBytes) bytes")
                return .pause
            case let .line(line):
                switch Result(catching: { () throws(FrameError) in try ServerFrameParser.parse(line) }) {
                case let .success(view):
                    body(view)
                    return .proceed
                case let .failure(error):
                    failure = .protocolViolation(error.description)
                    return .pause
                }
            case .payload, .payloadSkipped, .badFraming:
                // Only after a payload decision, which this version 1 client never makes.
                failure = .protocolViolation("a payload on a version 1 connection")
                return .pause
            }
        }
        if let failure {
            framer.reset()
            throw failure
        }
    }
}

/// A connection belongs to one thread; share a ``BrokerConnection/Canceller`` instead.
@available(*, unavailable)
extension BrokerConnection: Sendable {}
