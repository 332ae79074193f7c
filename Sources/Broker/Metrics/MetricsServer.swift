// The metrics HTTP server: one thread with its own epoll serving GET /metrics and GET /healthz.
import CBrokerShim
import Glibc
import Synchronization

/// One HTTP connection of the metrics server. Loop thread only (the metrics thread).
private final class MetricsConnection {
    /// What the connection is doing now.
    enum Phase {
        /// Reading the request head.
        case reading
        /// Writing `response[offset...]`.
        case writing(response: [UInt8], offset: Int)
        /// The response is out and our side is shut down: reading and discarding
        /// until the client closes, so that closing never resets the connection
        /// before the client has read the response. Holds the bytes discarded so far.
        case draining(discarded: Int)
    }

    /// The socket.
    let fd: Int32
    /// The key of this connection in the epoll registrations (fd and a generation).
    let token: UInt64
    /// When the connection is cut off (monotonic ms) if it has not finished.
    var deadlineMs: Int64
    /// The request head read so far.
    var reader = HTTPRequestReader(maxHeadBytes: MetricsServer.maxHeadBytes)
    var phase = Phase.reading

    init(fd: Int32, token: UInt64, deadlineMs: Int64) {
        self.fd = fd
        self.token = token
        self.deadlineMs = deadlineMs
    }
}

/// Serves the broker's figures over HTTP/1.1 on its own thread: `GET /metrics`
/// (the Prometheus text format 0.0.4) and `GET /healthz` (`ok`); every other
/// request gets 400, 404 or 405, and every response `Connection: close`.
///
/// Guarantees: non-blocking sockets on one epoll, several connections at once
/// (at most ``maxConnections``; more are answered 503); a connection that has
/// not sent a complete request head (at most ``maxHeadBytes``) within the
/// request deadline gets 408 and is closed, one whose head passes the limit
/// gets 431; a connection never lives longer than twice the deadline. A slow
/// or hostile HTTP client never touches the event loops: the only shared state
/// read is the server's counters and the topic registry.
///
/// Threads: ``run()`` on the metrics thread only; ``stop()`` and
/// ``setTopTopics(_:)`` from any thread.
final class MetricsServer: @unchecked Sendable {
    // @unchecked Sendable: other threads touch only `stopRequested`, `topTopics`
    // (atomics) and `doorbell` (an eventfd). Everything else is used on the
    // metrics thread only, once `run()` has started there.

    /// The most bytes a request line and headers may take.
    static let maxHeadBytes = 8192
    /// The most connections served at once.
    static let maxConnections = 64
    /// Bytes discarded after the response before the connection is closed anyway.
    static let maxDrainBytes = 64 * 1024

    private static let listenerToken = UInt64.max - 1
    private static let doorbellToken = UInt64.max

    /// The address the listener is bound to (its port is the real one for port 0).
    let address: SocketAddress
    private let context: ServerContext
    private let listener: Int32
    private let epoll: Epoll
    private let doorbell: EventFD
    private let stopRequested = Atomic<Bool>(false)
    /// `metrics_top_topics`, live.
    private let topTopics: Atomic<Int>
    /// How long a client has to send its request head, in ms.
    private let requestDeadlineMs: Int64

    // Metrics-thread state.
    private var connections: [UInt64: MetricsConnection] = [:]
    private var generation: UInt32 = 0
    private var acceptPausedUntilMs: Int64?
    private let readBuffer: UnsafeMutableRawBufferPointer

    /// Binds `address` and prepares the epoll; nothing is served before ``run()``.
    init(address: SocketAddress, context: ServerContext, topTopics: Int, requestDeadlineMs: Int) throws(SystemError) {
        self.context = context
        self.topTopics = Atomic(topTopics)
        self.requestDeadlineMs = Int64(max(1, requestDeadlineMs))
        let epoll = try Epoll()
        let doorbell = try EventFD()
        let listener = try Socket.listen(on: address, backlog: 128)
        do {
            self.address = try Socket.localAddress(listener)
            try epoll.add(doorbell.fd, events: EpollBits.readable, token: MetricsServer.doorbellToken)
            try epoll.add(listener, events: EpollBits.readable, token: MetricsServer.listenerToken)
        } catch {
            Socket.close(listener)
            throw error
        }
        self.epoll = epoll
        self.doorbell = doorbell
        self.listener = listener
        readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
    }

    deinit {
        readBuffer.deallocate()
    }

    /// Asks the thread to close every connection and the listener, and to return. Any thread.
    func stop() {
        stopRequested.store(true, ordering: .releasing)
        doorbell.signal()
    }

    /// Closes the listener of a server whose ``run()`` was never started
    /// (its thread could not be created). Any thread, then never ``run()``.
    func closeUnstarted() {
        Socket.close(listener)
    }

    /// Changes how many topics get per-topic series (a reload). Any thread.
    func setTopTopics(_ limit: Int) {
        topTopics.store(max(0, limit), ordering: .relaxed)
    }

    // MARK: - The loop

    /// Serves until ``stop()``; then closes everything. Metrics thread only.
    func run() {
        let events = UnsafeMutableBufferPointer<epoll_event>.allocate(capacity: 64)
        defer {
            events.deallocate()
            for connection in Array(connections.values) { close(connection) }
            epoll.remove(listener)
            Socket.close(listener)
        }
        while !stopRequested.load(ordering: .acquiring) {
            let count: Int
            do {
                count = try epoll.wait(into: events, timeoutMs: nextTimeoutMs())
            } catch {
                context.logger.error("metrics: \(error)")
                return
            }
            for position in 0..<count {
                let event = events[position]
                switch event.data.u64 {
                case MetricsServer.doorbellToken: doorbell.drain()
                case MetricsServer.listenerToken: acceptConnections()
                default:
                    // A stale event for a connection closed earlier in this batch finds nothing.
                    if let connection = connections[event.data.u64] { handle(connection, events: event.events) }
                }
            }
            checkDeadlines()
        }
    }

    private func nextTimeoutMs() -> Int32 {
        let now = monotonicMilliseconds()
        var until: Int64 = 1000
        if let paused = acceptPausedUntilMs { until = min(until, paused - now) }
        for connection in connections.values { until = min(until, connection.deadlineMs - now) }
        return Int32(max(0, until))
    }

    private func acceptConnections() {
        for _ in 0..<32 {
            let accepted: IOResult<(Int32, SocketAddress)>
            do {
                accepted = try Socket.accept(listener)
            } catch {
                if error.errno == EMFILE || error.errno == ENFILE || error.errno == ENOBUFS || error.errno == ENOMEM {
                    context.logger.warn("metrics: cannot accept: \(error); pausing accept for 100 ms")
                    try? epoll.modify(listener, events: 0, token: MetricsServer.listenerToken)
                    acceptPausedUntilMs = monotonicMilliseconds() + 100
                    return
                }
                continue  // ECONNABORTED and the like concern only that connection
            }
            guard case let .done((fd, _)) = accepted else { return }
            if connections.count >= MetricsServer.maxConnections {
                _ = Socket.send(fd, HTTPResponse.plain(.serviceUnavailable, "too many metrics connections").encoded)
                Socket.close(fd)
                continue
            }
            generation &+= 1
            let token = UInt64(generation) << 32 | UInt64(UInt32(bitPattern: fd))
            let connection = MetricsConnection(fd: fd, token: token, deadlineMs: monotonicMilliseconds() + requestDeadlineMs)
            do {
                try epoll.add(fd, events: EpollBits.readable | EpollBits.readHangup, token: token)
            } catch {
                context.logger.warn("metrics: cannot watch connection: \(error)")
                Socket.close(fd)
                continue
            }
            connections[token] = connection
        }
    }

    private func handle(_ connection: MetricsConnection, events: UInt32) {
        switch connection.phase {
        case .reading: readRequest(connection)
        case .writing: writeResponse(connection)
        case .draining: drain(connection)
        }
        // EPOLLERR/EPOLLHUP with nothing left to do on the socket: the peer is gone.
        if connections[connection.token] != nil, events & (EpollBits.error | EpollBits.hangup) != 0 {
            if case .writing = connection.phase { return }  // the write reports the error itself
            close(connection)
        }
    }

    private func readRequest(_ connection: MetricsConnection) {
        while true {
            let result: IOResult<Int>
            do {
                result = try Socket.read(connection.fd, into: readBuffer)
            } catch {
                close(connection)
                return
            }
            guard case let .done(count) = result else { return }
            if count == 0 {  // EOF before a complete head: nobody to answer
                close(connection)
                return
            }
            switch connection.reader.feed(UnsafeRawBufferPointer(rebasing: readBuffer[0..<count])) {
            case .needMore:
                continue
            case let .complete(head):
                respond(connection, with: response(for: MetricsRoute(head)))
                return
            case let .failed(error):
                respond(connection, with: .plain(error.status))
                return
            }
        }
    }

    private func response(for route: MetricsRoute) -> HTTPResponse {
        switch route {
        case .metrics:
            let snapshot = context.metricsSnapshot(topTopics: topTopics.load(ordering: .relaxed))
            return HTTPResponse(status: .ok, contentType: prometheusContentType, body: MetricsExposition.render(snapshot))
        case .health:
            return .plain(.ok, "ok")
        case .refuse(.methodNotAllowed):
            var response = HTTPResponse.plain(.methodNotAllowed)
            response.extraHeaders = [("Allow", "GET")]
            return response
        case let .refuse(status):
            return .plain(status)
        }
    }

    private func respond(_ connection: MetricsConnection, with response: HTTPResponse) {
        connection.phase = .writing(response: response.encoded, offset: 0)
        connection.deadlineMs = monotonicMilliseconds() + requestDeadlineMs
        do {
            try epoll.modify(connection.fd, events: EpollBits.writable, token: connection.token)
        } catch {
            close(connection)
            return
        }
        writeResponse(connection)
    }

    private func writeResponse(_ connection: MetricsConnection) {
        guard case .writing(let bytes, var offset) = connection.phase else { return }
        while offset < bytes.count {
            let result: IOResult<Int>
            do {
                result = try bytes.withUnsafeBytes { raw throws(SystemError) in
                    guard let base = raw.baseAddress else { return .done(raw.count - offset) }
                    return try nonBlocking("send") { Glibc.send(connection.fd, base + offset, raw.count - offset, Int32(MSG_NOSIGNAL)) }
                }
            } catch {
                close(connection)
                return
            }
            guard case let .done(sent) = result else {
                connection.phase = .writing(response: bytes, offset: offset)
                return  // EPOLLOUT brings us back
            }
            offset += sent
        }
        // All out: half-close, then wait for the client's EOF (a lingering close).
        _ = Glibc.shutdown(connection.fd, Int32(SHUT_WR))
        connection.phase = .draining(discarded: 0)
        do {
            try epoll.modify(connection.fd, events: EpollBits.readable | EpollBits.readHangup, token: connection.token)
        } catch {
            close(connection)
        }
    }

    private func drain(_ connection: MetricsConnection) {
        guard case var .draining(discarded) = connection.phase else { return }
        while true {
            let result: IOResult<Int>
            do {
                result = try Socket.read(connection.fd, into: readBuffer)
            } catch {
                close(connection)
                return
            }
            guard case let .done(count) = result else {
                connection.phase = .draining(discarded: discarded)
                return
            }
            discarded += count
            if count == 0 || discarded > MetricsServer.maxDrainBytes {
                close(connection)
                return
            }
        }
    }

    private func checkDeadlines() {
        let now = monotonicMilliseconds()
        if let paused = acceptPausedUntilMs, now >= paused {
            acceptPausedUntilMs = nil
            try? epoll.modify(listener, events: EpollBits.readable, token: MetricsServer.listenerToken)
        }
        for connection in Array(connections.values) where now >= connection.deadlineMs {
            if case .reading = connection.phase {
                // Best effort: the socket is empty, so a short reply fits; then cut the connection off.
                _ = Socket.send(connection.fd, HTTPResponse.plain(.requestTimeout).encoded)
            }
            close(connection)
        }
    }

    private func close(_ connection: MetricsConnection) {
        guard connections.removeValue(forKey: connection.token) != nil else { return }
        epoll.remove(connection.fd)
        Socket.close(connection.fd)
    }
}
