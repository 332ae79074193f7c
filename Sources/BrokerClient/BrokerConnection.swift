// One connection to the broker: connect, HELLO, request/reply commands, subscriptions and their positions.
import Posix
import Protocol

/// A connection to a broker, used from one thread at a time.
///
/// Commands (``publish(topic:payload:)``, ``subscribe(_:options:)``, ``ping(timeout:)``...)
/// send one line and wait for its reply. Frames that arrive unasked while a reply is
/// awaited (`MSG`, `LAGGED`) are kept, in order, and handed out by
/// ``nextEvent(beforeBlocking:)``. For many messages at once, use
/// ``publishPipelined(topic:maxInFlight:produce:onReply:)``.
///
/// Versions: a connection speaks version 1 unless made with `version: .v2` (or switched
/// with ``hello(_:)``). Version 1 stays the default so that code written for it, and
/// brokers that know only version 1, see exactly what they saw before. In version 2:
/// - messages carry their sequence (``Message/seq``) and, for concrete topics, their
///   stream's epoch (``Message/epoch``); payloads may hold any byte;
/// - every frame is checked against the sequence rule (``SequenceChecker``): a gap that
///   no `LAGGED` frame reported is handed out as ``BrokerEvent/lagged(topic:count:)``,
///   never lost silently; a frame lag cannot explain throws
///   ``BrokerClientError/protocolViolation(_:)``;
/// - ``resumeState()`` and ``resume(_:)`` let a new connection go on where this one
///   stopped: held messages as messages, the rest counted, or
///   ``BrokerEvent/positionLost(topic:previous:current:)`` for a stream that is gone.
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
    /// The version this connection speaks (its last `HELLO` that was answered `OK`).
    @exclusivity(unchecked)
    public internal(set) var version: ProtocolVersion = .v1
    // The connection belongs to one thread, and no access to a property overlaps another
    // to the same property (the framer's callback never touches `framer`): the run-time
    // exclusivity checks of the per-message properties are left out
    // (`@exclusivity(unchecked)`): they were about 15 % of a subscriber's time per message (perf).

    /// The socket; closed when the connection and every canceller are gone.
    let socket: ConnectionSocket
    /// Splits the broker's bytes into lines and version 2 payloads.
    @exclusivity(unchecked)
    var framer = LineFramer(maxLineBytes: BrokerConnection.maxFrameBytes)
    /// The version incoming lines are parsed with: it changes at the `OK` of a `HELLO`,
    /// in the middle of a read if need be, since the frames after it are in the new version.
    @exclusivity(unchecked)
    var parseVersion: ProtocolVersion = .v1
    /// The version a `HELLO` awaiting its reply asked for.
    var pendingHello: ProtocolVersion?
    /// The sequence of the version 2 `MSG` whose payload the framer is reading (its
    /// topic is ``recentTopic``, made by its header line).
    @exclusivity(unchecked)
    var pendingSeq: UInt64?
    /// The last topic made into a `String`, kept to reuse for the next frame on it.
    @exclusivity(unchecked)
    var recentTopic: (bytes: [UInt8], text: String) = ([], "")
    /// Frames read and not yet taken, in arrival order, from `inboundHead` on.
    @exclusivity(unchecked)
    var inbound: [Inbound] = []
    /// Index of the next frame in `inbound` to take.
    @exclusivity(unchecked)
    var inboundHead = 0
    /// Checked events not yet handed out, from `eventsHead` on.
    @exclusivity(unchecked)
    var events: [BrokerEvent] = []
    /// Index of the next event in `events` to hand out.
    @exclusivity(unchecked)
    var eventsHead = 0
    /// The subscriptions this connection holds, in the order they were made.
    var active: [ActiveSubscription] = []
    /// The id of the next subscription.
    var nextSubscriptionID = 1
    /// Checks version 2 frames against the sequence rule.
    let checker = SequenceChecker()
    /// The read buffer (one allocation for the connection's life).
    @exclusivity(unchecked)
    var readBuffer: UnsafeMutableRawBufferPointer
    /// True once the broker's end of file was read.
    @exclusivity(unchecked)
    var reachedEnd = false

    /// The longest broker line accepted: a version 1 `MSG` of the largest payload a
    /// broker accepts with `BPUB` (`max_payload_bytes` is at most 1 GiB) and its topic.
    static let maxFrameBytes = maxPayloadBytes + 512
    /// The largest version 2 payload accepted (the broker's largest `max_payload_bytes`).
    static let maxPayloadBytes = 1 << 30
    /// Bytes asked for per read.
    static let readBufferBytes = 1 << 20

    /// Connects, waiting at most `timeout` for the broker to accept; then, when `token`
    /// is given, authenticates with `AUTH <token>` (`AUTH <user> <token>` with `user`, an
    /// `acl_file` user of the broker), and with `version` `.v2` sends
    /// `HELLO 2` (each reply awaited at most `timeout`), before anything else is sent.
    ///
    /// Throws ``BrokerClientError/cannotConnect(address:reason:)`` with the system's text,
    /// ``BrokerClientError/authenticationFailed`` when the broker refuses the token, and
    /// ``BrokerClientError/refused(_:)`` with `unknown-command` from a broker that knows
    /// only version 1. A broker without a configured token accepts any `AUTH`.
    public init(to endpoint: Endpoint, timeout: Duration = .seconds(5), token: String? = nil, user: String? = nil,
                version: ProtocolVersion = .v1) throws(BrokerClientError) {
        self.endpoint = endpoint
        self.socket = try ConnectionSocket.connect(to: endpoint, timeout: timeout)
        self.readBuffer = .allocate(byteCount: BrokerConnection.readBufferBytes, alignment: 16)
        if let token { try authenticate(token, user: user, timeout: timeout) }
        if version != .v1 { try hello(version, timeout: timeout) }
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
    /// Returns the number of subscriptions it was queued for (`OK <n>`, in version 2 `OK <n> <epoch>:<seq>`).
    /// Throws ``BrokerClientError/refused(_:)`` when the broker answers `ERR`.
    @discardableResult
    public func publish(topic: some Collection<UInt8>, payload: some Collection<UInt8>) throws(BrokerClientError) -> Int {
        var line: [UInt8] = []
        WireEncoder.appendPub(topic: topic, payload: payload, to: &line)
        return try publishReceipt(for: request(line), command: "PUB").subscribers
    }

    /// Publishes one text message; see ``publish(topic:payload:)``.
    @discardableResult
    public func publish(topic: String, _ text: String) throws(BrokerClientError) -> Int {
        try publish(topic: Array(topic.utf8), payload: Array(text.utf8))
    }

    /// Switches the connection to `version` with `HELLO <version>` and waits up to
    /// `timeout` (nil: for ever) for its reply; subscriptions stay.
    ///
    /// Frames after the reply are read in the new version. A broker that knows only
    /// version 1 answers `ERR unknown-command` (``BrokerClientError/refused(_:)``); the
    /// connection then goes on in the version it spoke.
    public func hello(_ version: ProtocolVersion, timeout: Duration? = nil) throws(BrokerClientError) {
        var line: [UInt8] = []
        WireEncoder.appendHello(version: version.rawValue, to: &line)
        pendingHello = version
        defer { pendingHello = nil }
        let rest = try request(line, deadline: timeout.map { ContinuousClock.now.advanced(by: $0) })
        guard rest == Array(version.description.utf8) else {
            throw .protocolViolation("HELLO reply 'OK \(String(decoding: rest ?? [], as: UTF8.self))'")
        }
        self.version = version
    }

    /// Subscribes to a topic or pattern; active when this returns.
    ///
    /// `options` are version 2's (`from=`, `last=`, `group=`); a version 1 broker
    /// refuses any. Returns, in version 2 and for a concrete topic, the stream's epoch
    /// and head when the subscription became active (`OK <epoch> <head>`); nil otherwise.
    /// With `from=` that the broker did not honor (another epoch, or a sequence past the
    /// head), a ``BrokerEvent/positionLost(topic:previous:current:)`` is handed out
    /// before the subscription's messages. Subscribing again with the same string and
    /// group changes nothing (the broker replays nothing).
    @discardableResult
    public func subscribe(_ pattern: String, options: SubscribeOptions = .none) throws(BrokerClientError) -> StreamPosition? {
        var line: [UInt8] = []
        WireEncoder.appendSub(pattern.utf8, options: options, to: &line)
        let rest = try request(line)
        let isPattern = Array(pattern.utf8).withUnsafeBytes { Names.hasWildcard($0) }
        var head: StreamPosition?
        if version == .v2 && !isPattern {
            guard let rest, let position = ServerFrameParser.subscribeReply(rest) else {
                throw .protocolViolation("SUB reply 'OK \(String(decoding: rest ?? [], as: UTF8.self))'")
            }
            head = position
        }
        let group = options.group.map { String(decoding: $0, as: UTF8.self) }
        if active.contains(where: { $0.pattern == pattern && $0.group == group }) { return head }
        register(pattern, group: group, isPattern: isPattern, options: options, head: head)
        return head
    }

    /// Ends the subscription made with exactly this string (and group); after the reply
    /// no frame comes for it.
    public func unsubscribe(_ pattern: String, group: String? = nil) throws(BrokerClientError) {
        var line: [UInt8] = []
        WireEncoder.appendUnsub(pattern.utf8, group: group.map { Array($0.utf8) }, to: &line)
        _ = try request(line)
        if let index = active.firstIndex(where: { $0.pattern == pattern && $0.group == group }) {
            checker.unsubscribed(id: active[index].id)
            active.remove(at: index)
        }
    }

    /// Sends `PING` and returns the time until its `PONG`; throws
    /// ``BrokerClientError/timedOut(_:)`` if none came within `timeout` (nil: wait for ever).
    @discardableResult
    public func ping(timeout: Duration? = nil) throws(BrokerClientError) -> Duration {
        var line: [UInt8] = []
        WireEncoder.appendPing(to: &line)
        let start = ContinuousClock.now
        try send(line)
        switch try awaitReply(deadline: timeout.map { start.advanced(by: $0) }) {
        case .pong: return start.duration(to: .now)
        case let .err(code, text): throw .refused(ProtocolError(code, text))
        default: throw .protocolViolation("OK in answer to PING")
        }
    }

    /// Sends `AUTH <token>` (`AUTH <user> <token>` with `user`) and waits up to `timeout`
    /// for its reply.
    ///
    /// `ERR auth-failed` (or the `BYE auth-failed` after it) becomes
    /// ``BrokerClientError/authenticationFailed``; a token or user that is empty or holds a
    /// space or control character is refused here, without being sent.
    public func authenticate(_ token: String, user: String? = nil, timeout: Duration? = nil) throws(BrokerClientError) {
        func isWord(_ text: String) -> Bool { !text.isEmpty && text.utf8.allSatisfy { $0 > 0x20 && $0 != 0x7F } }
        guard isWord(token), user.map(isWord) ?? true else {
            throw .invalidToken
        }
        var line: [UInt8] = []
        WireEncoder.appendAuth(user: user.map { Array($0.utf8) }, token: token.utf8, to: &line)
        try send(line)
        let reply: ServerFrame
        do {
            reply = try awaitReply(deadline: timeout.map { ContinuousClock.now.advanced(by: $0) })
        } catch let .bye(code, _) where code == .authFailed {
            throw .authenticationFailed
        }
        switch reply {
        case .ok: return
        case let .err(code, _) where code == .authFailed: throw .authenticationFailed
        case let .err(code, text): throw .refused(ProtocolError(code, text))
        default: throw .protocolViolation("PONG in answer to AUTH")
        }
    }

    /// Sends `QUIT`, waits for its `OK`, and lets the broker close.
    public func quit() throws(BrokerClientError) {
        var line: [UInt8] = []
        WireEncoder.appendQuit(to: &line)
        _ = try request(line)
    }

    // MARK: Internals

    /// Sends one command line and waits for its reply: the text after `OK`, or throws for `ERR`.
    func request(_ line: [UInt8], deadline: ContinuousClock.Instant? = nil) throws(BrokerClientError) -> [UInt8]? {
        try send(line)
        switch try awaitReply(deadline: deadline) {
        case let .ok(rest): return rest
        case let .err(code, text): throw .refused(ProtocolError(code, text))
        default: throw .protocolViolation("PONG in answer to a command")
        }
    }

    /// The reply to the command just sent (`OK`, `ERR` or `PONG`); unasked frames that
    /// come first are checked and kept. Throws for `BYE`, end of file, and the deadline.
    func awaitReply(deadline: ContinuousClock.Instant?) throws(BrokerClientError) -> ServerFrame {
        while true {
            guard let item = try nextInbound(beforeBlocking: {}, deadline: deadline) else { throw .closed }
            switch item {
            case let .reply(frame): return frame
            case let .event(.bye(code, text)): throw .bye(code: code, text: text)
            case let .event(event): try accept(event)
            }
        }
    }

    /// Records a subscription whose reply was just read, and tells the checker, in wire order.
    private func register(_ pattern: String, group: String?, isPattern: Bool, options: SubscribeOptions, head: StreamPosition?) {
        let id = nextSubscriptionID
        nextSubscriptionID += 1
        var start: UInt64?
        var startSeq: UInt64?
        if let head {
            start = head.seq
            startSeq = head.seq
            if let from = options.from {
                if from.epoch == head.epoch && from.seq <= head.seq {
                    start = from.seq
                    startSeq = from.seq
                } else {
                    events.append(.positionLost(topic: pattern, previous: from, current: head))
                }
            } else if let last = options.last {
                start = nil  // the rule starts at the first message replayed
                startSeq = head.seq - min(last, head.seq)
            }
        }
        let epoch = head.map { String(decoding: $0.epoch, as: UTF8.self) }
        checker.subscribed(id: id, pattern: pattern, isGroup: group != nil, start: start, epoch: epoch)
        active.append(ActiveSubscription(id: id, pattern: pattern, group: group, isPattern: isPattern,
                                         epoch: epoch, startSeq: startSeq))
    }

    /// Writes all of `bytes`.
    func send(_ bytes: [UInt8]) throws(BrokerClientError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(BrokerClientError) in try socket.writeAll(raw) }
        }
        try result.get()
    }
}

/// A connection belongs to one thread; share a ``BrokerConnection/Canceller`` instead.
@available(*, unavailable)
extension BrokerConnection: Sendable {}
