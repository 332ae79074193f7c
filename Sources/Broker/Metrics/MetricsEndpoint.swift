// The metrics endpoint on a loop's reactor: GET /metrics and GET /healthz over HTTP/1.1.
import Channels
import Posix
import Protocol
import Dispatch
import Glibc
import TLS

/// Serves the broker's figures over HTTP/1.1 on one loop's reactor (loop 0):
/// `GET /metrics` (the Prometheus text format 0.0.4) and `GET /healthz` (`ok`);
/// every other request gets 400, 404 or 405, and every response `Connection: close`.
///
/// Guarantees: non-blocking sockets; several connections at once (at most
/// ``maxConnections``; more are answered 503); a connection that has not sent a
/// complete request head (at most ``maxHeadBytes``) within the request deadline
/// gets 408 and is closed, one whose head passes the limit gets 431; a
/// connection never lives longer than twice the deadline. Each step on the loop
/// is bounded (a read of 4 KiB, one response written as far as the socket takes
/// it), so a slow or hostile HTTP client costs the loop no more than a slow
/// subscriber. The one step that grows with the broker — the `/metrics` body,
/// which visits every topic — is rendered off the loop, on one serial queue, and
/// comes back through the loop's mailbox.
///
/// Loop thread only.
final class MetricsEndpoint: ReactorHandler {
    /// The most bytes a request line and headers may take.
    static let maxHeadBytes = 8192
    /// The most connections served at once.
    static let maxConnections = 64
    /// Bytes discarded after the response before the connection is closed anyway.
    static let maxDrainBytes = 64 * 1024

    /// The listening socket; closed with the endpoint.
    let socket: SocketHandle
    private let token: ReactorToken
    /// `unowned(unsafe)`: the reactor owns this endpoint (and its connections use it).
    unowned(unsafe) let reactor: Reactor
    let context: ServerContext
    /// The loop's core, for the live `metrics_top_topics`. `unowned(unsafe)`: the loop owns both.
    private unowned(unsafe) let core: CommandCore
    /// How long a client has to send its request head, in ms.
    let requestDeadlineMs: Int64
    private var connections: [ReactorToken: MetricsHTTPConnection] = [:]
    /// Where `/metrics` bodies are rendered, one at a time, off the loop.
    private let renderQueue = DispatchQueue(label: "broker.metrics.render")
    /// The loop's mailbox, through which a rendered body comes back.
    private let mailbox: LoopMailbox
    /// Takes an upgraded connection as a WebSocket session (the loop sets it): the socket's
    /// descriptor (a duplicate, now the caller's), the peer, the 101 response, the bytes
    /// read after the request head, and its TLS (moved to the duplicate) on the HTTPS listener.
    /// Returns false when the broker takes no more connections.
    var adoptWebSocket: (Int32, SocketAddress, [UInt8], [UInt8], TLSLink?) -> Bool = { _, _, _, _, _ in false }
    /// Whether this is the HTTPS listener (`https_port`): its connections speak TLS, made with
    /// the loop's TLS context at accept.
    let secure: Bool
    /// Where requests are read (one per endpoint; reads never overlap on one loop).
    let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)

    init(socket: consuming SocketHandle, token: ReactorToken, reactor: Reactor, context: ServerContext, core: CommandCore,
         mailbox: LoopMailbox, requestDeadlineMs: Int64, secure: Bool = false) {
        self.secure = secure
        self.socket = socket
        self.mailbox = mailbox
        self.token = token
        self.reactor = reactor
        self.context = context
        self.core = core
        self.requestDeadlineMs = max(1, requestDeadlineMs)
    }

    deinit { readBuffer.deallocate() }

    /// The listener is readable: accept what is waiting.
    func handleEvents(_ events: UInt32) {
        for _ in 0..<32 {
            let accepted: IOResult<AcceptedSocket>
            do {
                accepted = try socket.accept()
            } catch {
                if error.isResourceExhaustion {
                    context.logger.warn("metrics: cannot accept: \(error); pausing accept for 100 ms")
                    reactor.pause(socket.fd, token: token, forMs: 100, thenWatch: EpollBits.readable)
                    return
                }
                continue  // ECONNABORTED and the like concern only that connection
            }
            guard case let .done(accepted) = accepted else { return }
            if connections.count >= MetricsEndpoint.maxConnections {
                // Over TLS nothing can be said before a handshake: the connection just closes.
                if !secure {
                    accepted.socket.sendFinalFrame(HTTPResponse.plain(.serviceUnavailable, "too many metrics connections").encoded)
                }
                continue
            }
            var link: TLSLink?
            if secure {
                guard let tlsContext = core.settings.tls.context,
                      let made = try? TLSLink(context: tlsContext, fd: accepted.socket.fd) else { continue }
                link = made
            }
            let connectionToken = reactor.reserveToken()
            let peer = accepted.peer
            let connection = MetricsHTTPConnection(socket: accepted.socket, peer: peer, token: connectionToken, endpoint: self, tls: link)
            do {
                try reactor.register(connection.socket.fd, events: EpollBits.readable | EpollBits.readHangup,
                                     token: connectionToken, handler: connection)
                connections[connectionToken] = connection
                connection.armDeadline()
            } catch {
                context.logger.warn("metrics: cannot watch connection: \(error)")
            }
        }
    }

    /// Every loop's mailbox (`/api/v1/connections` asks each for its connections).
    var loops: [LoopMailbox] = []
    /// Publish rates between calls of `/api/v1/topics` (render queue only).
    private let topicRates = TopicRates()

    /// Renders `/api/v1/connections` off the loop: each loop sends the first `offset + limit`
    /// of its connections in the query's order (through a oneshot), and the page is merged here.
    func renderConnections(for token: ReactorToken, query: APIQuery) {
        let loops = self.loops.isEmpty ? [mailbox] : self.loops
        let mailbox = self.mailbox
        renderQueue.async {
            var receivers: [OneshotReceiver<LoopConnections>] = []
            for loop in loops {
                let (reply, received) = Oneshot.channel(of: LoopConnections.self)
                loop.send(.snapshotConnections(query: query, reply: reply))
                receivers.append(received)
            }
            let parts = receivers.compactMap { try? $0.blockingRecv(timeoutMs: 5000) }
            let body = ConnectionsAPI.render(parts, query: query, nowUnixMs: unixMilliseconds())
            mailbox.send(.metricsRendered(token: token, response: HTTPResponse.json(body).encoded))
        }
    }

    /// Renders `/api/v1/topics` off the loop, from the figures loop 0 takes from its store
    /// (the store the loop's commands use: the cluster engine's, with its streams' epochs).
    func renderTopics(for token: ReactorToken, query: APIQuery) {
        let mailbox = self.mailbox
        let rates = topicRates
        renderQueue.async {
            let (reply, received) = Oneshot.channel(of: [TopicSnapshot].self)
            mailbox.send(.snapshotTopics(reply: reply))
            let topics = (try? received.blockingRecv(timeoutMs: 5000)) ?? []
            let now = unixMilliseconds()
            let body = TopicsAPI.render(topics, rates: rates.rates(topics, nowMs: monotonicMilliseconds()), query: query, nowUnixMs: now)
            mailbox.send(.metricsRendered(token: token, response: HTTPResponse.json(body).encoded))
        }
    }

    /// Renders the `/metrics` response off the loop; ``deliver(_:to:)`` gets it
    /// back on the loop, for the connection registered as `token`.
    func renderMetrics(for token: ReactorToken) {
        let context = self.context
        let topTopics = core.settings.metricsTopTopics
        let mailbox = self.mailbox
        renderQueue.async {
            let snapshot = context.metricsSnapshot(topTopics: topTopics)
            let response = HTTPResponse(status: .ok, contentType: prometheusContentType, body: MetricsExposition.render(snapshot))
            mailbox.send(.metricsRendered(token: token, response: response.encoded))
        }
    }

    /// A rendered response is back: written to its connection if that is still open.
    func deliver(_ response: [UInt8], to token: ReactorToken) {
        connections[token]?.respond(encoded: response)
    }

    /// The response to a request, or nil for `/metrics`, whose body is rendered
    /// off the loop (``renderMetrics(for:)``).
    func response(for route: MetricsRoute) -> HTTPResponse? {
        switch route {
        case .metrics:
            return nil
        case .health:
            if !context.engineReachable.load(ordering: .relaxed) {
                return .plain(.serviceUnavailable, "engine unreachable: publishes are refused (engine-unavailable)")
            }
            return .plain(.ok, "ok")
        case .webSocket, .connections, .topics:
            return nil  // handed to the loop as a WebSocket session, or rendered off the loop
        case let .badQuery(reason):
            return .plain(.badRequest, reason)
        case .brokerJS:
            return HTTPResponse(status: .ok, contentType: BrokerJS.contentType, body: BrokerJS.source)
        case .dashboard:
            return HTTPResponse(status: .ok, contentType: Dashboard.contentType, body: Dashboard.page)
        case .stats:
            return .json(StatsAPI.render(context.statisticsLine()))
        case .refuse(.methodNotAllowed):
            var response = HTTPResponse.plain(.methodNotAllowed)
            response.extraHeaders = [("Allow", "GET")]
            return response
        case .refuse(.upgradeRequired):
            var response = HTTPResponse.plain(.upgradeRequired, "a WebSocket handshake with Sec-WebSocket-Version: 13 is needed")
            response.extraHeaders = [("Sec-WebSocket-Version", "13")]
            return response
        case let .refuse(status):
            return .plain(status)
        }
    }

    /// Forgets a connection; its socket closes when the connection object goes.
    func remove(_ connection: MetricsHTTPConnection) {
        guard connections.removeValue(forKey: connection.token) != nil else { return }
        reactor.deregister(connection.socket.fd, token: connection.token)
    }

    /// Stops listening and closes every connection (the listening socket closes
    /// when the loop lets go of the endpoint).
    func close() {
        for connection in Array(connections.values) { connection.close() }
        reactor.deregister(socket.fd, token: token)
    }
}

/// One HTTP connection of the metrics endpoint: read the request head, write
/// the response, then drain until the client closes. Loop thread only.
final class MetricsHTTPConnection: ReactorHandler {
    /// What the connection is doing now.
    enum Phase {
        /// The TLS handshake (HTTPS listener only).
        case handshaking
        /// Reading the request head.
        case reading
        /// Waiting for the `/metrics` body, rendered off the loop.
        case rendering
        /// Writing `response[offset...]`.
        case writing(response: [UInt8], offset: Int)
        /// The response is out and our side is shut down: reading and discarding
        /// until the client closes, so that closing never resets the connection
        /// before the client has read the response. Holds the bytes discarded so far.
        case draining(discarded: Int)
        /// Closed; late events are ignored.
        case closed
    }

    /// The socket; closed with the connection object.
    let socket: SocketHandle
    /// The client's address.
    let peer: SocketAddress
    let token: ReactorToken
    /// `unowned(unsafe)`: the endpoint owns its connections and closes them before it goes.
    private unowned(unsafe) let endpoint: MetricsEndpoint
    /// The request head read so far.
    private var reader = HTTPRequestReader(maxHeadBytes: MetricsEndpoint.maxHeadBytes)
    private var phase = Phase.reading
    /// Cuts the connection off when it has not finished in time.
    private var deadline: ReactorTimer?
    /// The connection's TLS (HTTPS listener); handed over with the connection on an upgrade.
    private var tls: TLSLink?

    init(socket: consuming SocketHandle, peer: SocketAddress, token: ReactorToken, endpoint: MetricsEndpoint, tls: TLSLink? = nil) {
        self.socket = socket
        self.peer = peer
        self.token = token
        self.endpoint = endpoint
        self.tls = tls
        if tls != nil { phase = .handshaking }
    }

    /// (Re)starts the connection's deadline: the request deadline from now.
    func armDeadline() {
        if let deadline { endpoint.reactor.cancelTimer(deadline) }
        deadline = endpoint.reactor.addTimer(at: monotonicMilliseconds() + endpoint.requestDeadlineMs) { [weak self] in
            guard let self else { return }
            deadline = nil
            if case .reading = phase {
                // Best effort: the socket is empty, so a short reply fits; then cut the connection off.
                let response = HTTPResponse.plain(.requestTimeout).encoded
                if let tls {
                    _ = response.withUnsafeBytes { try? tls.write($0) }
                } else {
                    socket.sendFinalFrame(response)
                }
            }
            close()
        }
    }

    func handleEvents(_ events: UInt32) {
        switch phase {
        case .handshaking: handshake()
        case .reading: readRequest()
        case .rendering: break
        case .writing: writeResponse()
        case .draining: drain()
        case .closed: return
        }
        // EPOLLERR/EPOLLHUP with nothing left to do on the socket: the peer is gone.
        if events & (EpollBits.error | EpollBits.hangup) != 0 {
            switch phase {
            case .writing, .closed: return  // the write reports the error itself
            case .handshaking, .reading, .rendering, .draining: close()
            }
        }
    }

    /// Reads what is there into the endpoint's buffer: the byte count (0 at end of
    /// file), or nil when nothing is there now or the read failed (then the
    /// connection is closed).
    private func readChunk() -> Int? {
        do {
            let outcome = if let tls { try tls.read(into: endpoint.readBuffer) } else { try socket.read(into: endpoint.readBuffer) }
            guard case let .done(count) = outcome else {
                if let tls, tls.readWaitsForWritable { try? watch(EpollBits.readable | EpollBits.writable) }
                return nil
            }
            return count
        } catch {
            close()
            return nil
        }
    }

    /// Advances the TLS handshake; once complete, reads the request.
    private func handshake() {
        guard let tls else { return }
        var peerLeft = false
        let complete: Bool
        do {
            complete = try tls.handshake(peerLeft: &peerLeft)
        } catch {
            endpoint.context.logger.info("HTTPS: TLS handshake failed: \(TLSLink.describeHandshakeFailure(error))", peer: peer.description)
            close()
            return
        }
        if peerLeft {
            close()
            return
        }
        guard complete else {
            do { try watch(tls.handshakeEvents) } catch { close() }
            return
        }
        phase = .reading
        do { try watch(EpollBits.readable | EpollBits.readHangup) } catch {
            close()
            return
        }
        readRequest()
    }

    /// Changes what the socket is watched for.
    private func watch(_ events: UInt32) throws(SystemError) {
        try endpoint.reactor.modify(socket.fd, token: token, events: events)
    }

    private func readRequest() {
        while let count = readChunk() {
            if count == 0 {  // EOF before a complete head: nobody to answer
                close()
                return
            }
            switch reader.feed(UnsafeRawBufferPointer(rebasing: endpoint.readBuffer[0..<count])) {
            case .needMore:
                continue
            case let .complete(head):
                let route = MetricsRoute(head)
                if case let .webSocket(key) = route {
                    upgrade(key: key)
                    return
                }
                if let response = endpoint.response(for: route) {
                    respond(with: response)
                } else {
                    phase = .rendering
                    do {
                        try watch(0)  // nothing to read meanwhile (hang-ups still come)
                    } catch {
                        close()
                        return
                    }
                    switch route {
                    case let .connections(query): endpoint.renderConnections(for: token, query: query)
                    case let .topics(query): endpoint.renderTopics(for: token, query: query)
                    default: endpoint.renderMetrics(for: token)
                    }
                }
                return
            case let .failed(error):
                respond(with: .plain(error.status))
                return
            }
        }
    }

    /// Hands the connection to the loop as a WebSocket session (a duplicate of the socket's
    /// descriptor; this connection then closes its own), or answers 503 when it cannot.
    private func upgrade(key: String) {
        let duplicate = Glibc.dup(socket.fd)
        guard duplicate >= 0 else {
            endpoint.context.logger.warn("WebSocket: cannot take the connection: \(SystemError("dup", errno: errno))")
            respond(with: .plain(.serviceUnavailable, "the broker cannot take this connection now"))
            return
        }
        tls?.connection.moveToDescriptor(duplicate)
        guard endpoint.adoptWebSocket(duplicate, peer, WebSocketHandshake.response(for: key), reader.leftover, tls) else {
            tls?.connection.moveToDescriptor(socket.fd)
            _ = Glibc.close(duplicate)
            respond(with: .plain(.serviceUnavailable, "the broker takes no more connections"))
            return
        }
        tls = nil  // the WebSocket session's now
        close()
    }

    private func respond(with response: HTTPResponse) {
        respond(encoded: response.encoded)
    }

    /// Starts writing an encoded response (one in flight at most: a rendered
    /// body arrives only while the connection waits for it).
    func respond(encoded response: [UInt8]) {
        switch phase {
        case .reading, .rendering: break
        case .handshaking, .writing, .draining, .closed: return
        }
        phase = .writing(response: response, offset: 0)
        armDeadline()
        do {
            try watch(EpollBits.writable)
        } catch {
            close()
            return
        }
        writeResponse()
    }

    private func writeResponse() {
        guard case .writing(let bytes, var offset) = phase else { return }
        while offset < bytes.count {
            let result: IOResult<Int>
            do {
                result = try bytes.withUnsafeBytes { raw throws(SystemError) in
                    let rest = UnsafeRawBufferPointer(rebasing: raw[offset...])
                    return if let tls { try tls.write(rest) } else { try socket.send(rest) }
                }
            } catch {
                close()
                return
            }
            guard case let .done(sent) = result else {
                phase = .writing(response: bytes, offset: offset)
                if let tls, tls.writeWaitsForReadable { try? watch(EpollBits.readable | EpollBits.writable) }
                return  // EPOLLOUT brings us back
            }
            offset += sent
        }
        // All out: half-close (after TLS's close_notify), then wait for the client's EOF (a lingering close).
        tls?.close(reactor: endpoint.reactor)
        try? socket.shutdown(.writing)
        phase = .draining(discarded: 0)
        do {
            try watch(EpollBits.readable | EpollBits.readHangup)
        } catch {
            close()
        }
    }

    private func drain() {
        guard case var .draining(discarded) = phase else { return }
        while let count = readChunk() {
            discarded += count
            if count == 0 || discarded > MetricsEndpoint.maxDrainBytes {
                close()
                return
            }
            phase = .draining(discarded: discarded)
        }
    }

    /// Closes the connection (once).
    func close() {
        if case .closed = phase { return }
        phase = .closed
        if let deadline { endpoint.reactor.cancelTimer(deadline) }
        deadline = nil
        endpoint.remove(self)
    }
}
