// One event-loop thread of the broker: a reactor, the sessions accepted onto it, their core and scheduler.
import Channels
import Posix
import Glibc
import Protocol
import Synchronization

/// What other threads send into a loop, through its mailbox.
enum LoopCommand: Sendable {
    /// A cursor of one of this loop's sessions has messages (sent by a ring on another thread).
    case wake(Cursor)
    /// A freshly accepted socket for this loop to own (the connection count was
    /// already taken). A number, since commands are copyable: the sender released
    /// its ``SocketHandle``, and the receiver adopts it into one at once. `secure`: it came
    /// to the TLS listener.
    case adopt(fd: Int32, peer: SocketAddress, secure: Bool)
    /// The settings or shutdown watch changed: read them, then acknowledge on `ack`.
    case watchesChanged(ack: OneshotSender<Void>?)
    /// A `/metrics` response rendered off the loop, for the metrics connection `token`.
    case metricsRendered(token: ReactorToken, response: [UInt8])
    /// Serve the metrics endpoint on this bound, listening socket (loop 0); a
    /// released ``SocketHandle``, adopted by the receiver as for `adopt`.
    case serveMetrics(fd: Int32, requestDeadlineMs: Int64, loops: [LoopMailbox], secure: Bool)
    /// `/api/v1/connections`: this loop's connections, the first of them in the query's order.
    case snapshotConnections(query: APIQuery, reply: OneshotSender<LoopConnections>)
    /// `/api/v1/topics`: every topic's figures from this loop's store (loop 0).
    case snapshotTopics(reply: OneshotSender<[TopicSnapshot]>)
}

/// What the server hands every loop: the live settings and the shutdown deadline
/// (monotonic ms; nil while running), each as a watch channel — the latest value
/// is what counts, and a loop that missed intermediate values loses nothing.
struct LoopWatches: Sendable {
    let settings: WatchReceiver<LiveSettings>
    let shutdown: WatchReceiver<Int64?>
}

extension ReactorWaker: BroadcastWaker {}

/// A loop's face to other threads: its inbox and its doorbell. Rings of other
/// loops wake this loop's cursors through it (it is their ``CursorScheduler``),
/// and the listener hands it accepted sockets.
///
/// Any thread. It holds no reference to the loop (only to its scheduler, used on
/// the loop's own thread), so cursors and listeners keep no loop alive.
final class LoopMailbox: CursorScheduler, @unchecked Sendable {
    // @unchecked Sendable: `local` is touched only on the loop's thread (checked
    // through `waker`); `sender` and `waker` are thread-safe.

    let sender: MpscUnboundedSender<LoopCommand>
    let waker: ReactorWaker
    /// The loop's scheduler; `unowned(unsafe)`: used only on the loop's thread,
    /// while the loop runs (and so exists).
    unowned(unsafe) let local: DeliveryScheduler
    /// The connection count, to give back when a socket cannot be handed over.
    private let context: ServerContext

    init(sender: MpscUnboundedSender<LoopCommand>, waker: ReactorWaker, local: DeliveryScheduler, context: ServerContext) {
        self.sender = sender
        self.waker = waker
        self.local = local
        self.context = context
    }

    /// A cursor has messages (called by a ring after a send). Any thread.
    override func schedule(_ cursor: Cursor) {
        if waker.isLoopThread {
            local.wake(cursor)
            return
        }
        send(.wake(cursor))
    }

    /// Sends a command to the loop. Any thread. After the loop has ended the
    /// command is dropped (an adopted socket is closed).
    func send(_ command: LoopCommand) {
        do {
            try sender.send(command)
        } catch {
            BrokerLoop.discard(error.value, context: context)
        }
    }
}

/// An event loop of the broker: one thread, one ``Reactor``, the sessions
/// accepted onto it, its ``CommandCore`` and ``DeliveryScheduler``.
///
/// Other threads reach it only through its ``LoopMailbox`` (an unbounded mpsc
/// inbox whose waker rings the reactor's doorbell) and the two watches of
/// ``LoopWatches``. Everything else is loop thread only.
final class BrokerLoop: SessionHost, ReactorTurnDelegate, @unchecked Sendable {
    // @unchecked Sendable: the server creates a loop, calls `listen` before its
    // thread starts, and hands it to that thread; from then on other threads
    // touch only `mailbox` (thread-safe), `index` and `reactor.idlePollHits`
    // (immutable or atomic). Everything else runs on the loop's thread.

    let index: Int
    let context: ServerContext
    let reactor: Reactor
    let mailbox: LoopMailbox
    private let inbox: MpscReceiver<LoopCommand>
    private let watches: LoopWatches
    let core: CommandCore
    let scheduler: DeliveryScheduler
    private(set) var services: SessionServices!
    let buffers = LoopIOBuffers()

    /// Sessions holding an incomplete line (for the idle timeout).
    private var partialLines: [UInt64: Session] = [:]
    private var idleCheck: ReactorTimer?
    private var statsTimer: ReactorTimer?
    /// The listening socket, on the loop that accepts (loop 0).
    private var listener: TCPListener?
    /// The TLS listening socket (`tls_port`), on loop 0.
    private var secureListener: TCPListener?
    /// The metrics endpoint, on loop 0 once started.
    private var metrics: MetricsEndpoint?
    /// The HTTPS endpoint (`https_port`), on loop 0 once started.
    private var secureMetrics: MetricsEndpoint?
    /// Set once shutdown has begun: the monotonic deadline.
    private var shutdownDeadlineMs: Int64?
    /// The cluster engine's store, when topics are kept in Redis (one loop then).
    private(set) var redisStore: RedisTopicStore?

    init(index: Int, context: ServerContext, watches: LoopWatches, engine: RedisEndpoint? = nil) throws(SystemError) {
        self.index = index
        self.context = context
        self.watches = watches
        let settings = watches.settings.borrowAndUpdate()
        reactor = try Reactor(idlePollMicroseconds: settings.idlePollUs)
        if let engine {
            redisStore = RedisTopicStore(local: context.store, reactor: reactor, connection: RedisConnection(reactor: reactor, endpoint: engine),
                                         logger: context.logger, epochSeed: UInt64.random(in: .min ... .max))
        }
        core = CommandCore(context: context, settings: settings, store: redisStore)
        scheduler = DeliveryScheduler(core: core)
        core.findSession = { [unowned scheduler] token in scheduler.sessions[token] }
        let (sender, inbox) = Mpsc.unbounded(of: LoopCommand.self)
        self.inbox = inbox
        mailbox = LoopMailbox(sender: sender, waker: reactor.waker, local: scheduler, context: context)
        core.cursorScheduler = mailbox
        services = SessionServices(core: core, scheduler: scheduler, host: self, buffers: buffers)
        scheduler.pollInput = { [unowned reactor] in reactor.pollNow() }
        reactor.onDoorbell = { [unowned self] in drainInbox() }
        redisStore?.onStreamReset = { [unowned scheduler] tokens, text in
            for token in tokens { scheduler.sessions[token]?.sayGoodbye(.streamReset, text, reason: .streamReset) }
        }
        redisStore?.onAvailabilityChange = { [unowned context] reachable in
            context.engineReachable.store(reachable, ordering: .relaxed)
        }
    }

    /// Open sessions of this loop.
    var sessionCount: Int { scheduler.sessions.count }

    // MARK: - The loop

    /// Runs until shutdown completes. Call on the loop's own thread.
    func run() {
        if index == 0 {
            reactor.addTimer(at: monotonicMilliseconds() + LocalTopicStore.lingerSweepIntervalMs) { [unowned self] in sweep() }
        }
        armStatisticsTimer()
        redisStore?.start()
        do {
            try reactor.run(delegate: self)
        } catch {
            context.logger.error("event loop \(index): \(error)")
        }
        closeAll(reason: .shutdown)
        redisStore?.stop()
        scheduler.removeAll()
        partialLines.removeAll()
        // From now on a send to this loop fails at once and the sender discards
        // the command (a socket gets its BYE there); what came before goes here.
        inbox.close()
        discardInbox()
    }

    deinit { discardInbox() }

    /// Drops whatever is in the inbox (wakes, sockets handed over late). On the
    /// loop's thread as it ends, or on any thread once it has ended.
    private func discardInbox() {
        let context = self.context
        takeInbox { BrokerLoop.discard($0, context: context) }
    }

    /// Hands every command in the inbox to `body`, in batches, until it is empty.
    private func takeInbox(_ body: (LoopCommand) -> Void) {
        withUnsafeTemporaryAllocation(of: LoopCommand.self, capacity: 64) { scratch in
            while true {
                let (count, _) = inbox.readBatch(intoUninitialized: scratch)
                for position in 0..<count { body(scratch.moveElement(from: position)) }
                if count < scratch.count { return }
            }
        }
    }

    /// Drops a command no loop will run: a socket in it is adopted and so closed,
    /// a client's after a best-effort `BYE shutting-down`.
    static func discard(_ command: LoopCommand, context: ServerContext) {
        switch command {
        case let .adopt(fd, _, secure):
            if secure {  // nothing can be said in plaintext to a TLS client
                _ = SocketHandle(adopting: fd)
                context.connectionCount.wrappingSubtract(1, ordering: .relaxed)
                return
            }
            SocketHandle(adopting: fd).sayBye(.shuttingDown, "the broker is shutting down")
            context.connectionCount.wrappingSubtract(1, ordering: .relaxed)
        case let .serveMetrics(fd, _, _, _):
            _ = SocketHandle(adopting: fd)
        case .wake, .watchesChanged, .metricsRendered, .snapshotConnections, .snapshotTopics:
            break
        }
    }

    var hasPendingWork: Bool { scheduler.hasPendingWork }
    var longestWaitMs: Int32? { scheduler.hasCoalescedWork ? DeliveryScheduler.coalescingWaitMs : nil }

    func endOfTurn() {
        redisStore?.flushPublishes()
        scheduler.processWokenCursors()
        scheduler.flushAll()
    }

    /// Takes every command from the inbox, then arms its waker for the next one.
    private func drainInbox() {
        repeat {
            takeInbox { handle($0) }
        } while !inbox.armWaker(reactor.waker)  // false: more arrived meanwhile
    }

    private func handle(_ command: LoopCommand) {
        switch command {
        case let .wake(cursor): scheduler.wake(cursor)
        case let .adopt(fd, peer, secure): adopt(SocketHandle(adopting: fd), peer: peer, secure: secure)
        case let .watchesChanged(ack):
            readWatches()
            _ = try? ack?.send(())
        case let .serveMetrics(fd, deadline, loops, secure):
            serveMetrics(SocketHandle(adopting: fd), requestDeadlineMs: deadline, secure: secure)
            metrics?.loops = loops
            secureMetrics?.loops = loops
        case let .snapshotConnections(query, reply):
            _ = try? reply.send(ConnectionsAPI.collect(scheduler.sessions.values, query: query, store: core.store))
        case let .snapshotTopics(reply):
            let topics = core.store.allTopicFigures().map { TopicSnapshot(name: $0.name, figures: $0.figures) }
            _ = try? reply.send(topics)
        case let .metricsRendered(token, response):
            // Tokens are unique on the reactor: only the endpoint holding the connection answers.
            metrics?.deliver(response, to: token)
            secureMetrics?.deliver(response, to: token)
        }
    }

    /// Applies the latest settings and shutdown deadline if they changed.
    private func readWatches() {
        if (try? watches.settings.hasChanged()) == true { apply(watches.settings.borrowAndUpdate()) }
        if (try? watches.shutdown.hasChanged()) == true, let deadline = watches.shutdown.borrowAndUpdate() {
            beginShutdown(deadlineMs: deadline)
        }
    }

    private func apply(_ settings: LiveSettings) {
        let old = core.settings
        core.settings = settings
        reactor.setIdlePoll(microseconds: settings.idlePollUs)
        for session in scheduler.sessions.values { session.framer.maxLineBytes = settings.maxLineBytes }
        if settings.statsIntervalMs != old.statsIntervalMs { armStatisticsTimer() }
        if settings.idleTimeoutMs != old.idleTimeoutMs { armIdleCheck(restart: true) }
        if settings.access != old.access {
            for session in Array(scheduler.sessions.values) { core.applyAccess(to: session) }
        }
        if settings.tcpKeepaliveS != old.tcpKeepaliveS {
            // Connections accepted from now on get the new keepalive; open ones keep theirs.
            listener?.socket.configureListener(keepaliveSeconds: settings.tcpKeepaliveS)
            secureListener?.socket.configureListener(keepaliveSeconds: settings.tcpKeepaliveS)
            metrics?.socket.configureListener(keepaliveSeconds: settings.tcpKeepaliveS)
            secureMetrics?.socket.configureListener(keepaliveSeconds: settings.tcpKeepaliveS)
        }
    }

    // MARK: - Sessions

    /// Starts accepting on `socket` (loop 0 only), spreading connections over `loops`; `secure`:
    /// it is the TLS listener.
    func listen(on socket: consuming SocketHandle, spreadingOver loops: [LoopMailbox], secure: Bool = false) throws(SystemError) {
        let token = reactor.reserveToken()
        socket.configureListener(keepaliveSeconds: core.settings.tcpKeepaliveS)
        let listener = TCPListener(socket: socket, token: token, loop: self, targets: loops, secure: secure)
        try reactor.register(listener.socket.fd, events: EpollBits.readable, token: token, handler: listener)
        if secure { secureListener = listener } else { self.listener = listener }
    }

    /// Takes ownership of an accepted socket (the connection count was already taken); `secure`:
    /// it speaks TLS.
    func adopt(_ socket: consuming SocketHandle, peer: SocketAddress, secure: Bool = false) {
        if shutdownDeadlineMs != nil {
            if !secure { socket.sayBye(.shuttingDown, "the broker is shutting down") }
            context.connectionCount.wrappingSubtract(1, ordering: .relaxed)
            return
        }
        // TCP_NODELAY and keepalive come from the listener (``SocketHandle/configureListener(keepaliveSeconds:)``).
        let id = context.nextConnectionID.wrappingAdd(1, ordering: .relaxed).oldValue
        let interest = EpollBits.readable | EpollBits.readHangup
        let token = reactor.reserveToken()
        let session: Session & ReactorHandler
        let fd = socket.fd
        if secure {
            guard let tlsContext = core.settings.tls.context else {
                context.logger.error("TLS connection refused: no TLS context", connection: id, peer: peer.description)
                context.connectionCount.wrappingSubtract(1, ordering: .relaxed)
                return
            }
            do {
                let tls = try TLSSession(socket: socket, id: id, token: token, peer: peer.description, reactor: reactor,
                                         services: services, context: tlsContext,
                                         handshakeTimeoutMs: core.settings.tlsHandshakeTimeoutMs)
                tls.interest = interest
                session = tls
            } catch {
                context.logger.error("TLS connection refused: \(error)", connection: id, peer: peer.description)
                context.connectionCount.wrappingSubtract(1, ordering: .relaxed)
                return
            }
        } else {
            let tcp = TCPSession(socket: socket, id: id, token: token, peer: peer.description, reactor: reactor, services: services)
            tcp.interest = interest
            session = tcp
        }
        do {
            try reactor.register(fd, events: interest, token: token, handler: session)
        } catch {
            context.logger.error("cannot watch connection: \(error)", connection: id, peer: peer.description)
            context.connectionCount.wrappingSubtract(1, ordering: .relaxed)
            return
        }
        scheduler.sessions[session.token] = session
        context.logger.info(secure ? "connection opened (TLS)" : "connection opened", connection: id, peer: session.peer)
    }

    /// Takes an upgraded HTTP connection (its descriptor `fd`) as a WebSocket session, writing
    /// `handshake` (the 101 response) first and reading `early` as its first bytes. False when
    /// the broker takes no more connections (`max_connections`, shutdown): the caller answers.
    func adoptWebSocket(fd: Int32, peer: SocketAddress, handshake: [UInt8], early: [UInt8], tls: TLSLink? = nil) -> Bool {
        let limit = core.settings.maxConnections
        guard shutdownDeadlineMs == nil,
              limit == 0 || context.connectionCount.load(ordering: .relaxed) < limit else { return false }
        context.connectionCount.wrappingAdd(1, ordering: .relaxed)
        let socket = SocketHandle(adopting: fd)
        // TCP_NODELAY and keepalive come from the HTTP listener, as for the TCP one.
        let id = context.nextConnectionID.wrappingAdd(1, ordering: .relaxed).oldValue
        let interest = EpollBits.readable | EpollBits.readHangup | EpollBits.writable
        let token = reactor.reserveToken()
        let session = WebSocketSession(socket: socket, id: id, token: token, peer: peer.description, reactor: reactor,
                                       services: services, handshake: handshake, tls: tls)
        do {
            try reactor.register(session.socket.fd, events: interest, token: token, handler: session)
        } catch {
            context.logger.error("cannot watch connection: \(error)", connection: id, peer: peer.description)
            context.connectionCount.wrappingSubtract(1, ordering: .relaxed)
            return true  // the descriptor is the session's, and closed with it
        }
        session.interest = interest
        scheduler.sessions[session.token] = session
        context.logger.info(tls == nil ? "connection opened (WebSocket)" : "connection opened (WebSocket over TLS)",
                            connection: id, peer: session.peer)
        if let tls, core.settings.access.list != nil, let name = tls.connection.peerCommonName {
            core.certificateVerified(commonName: name, on: session)
        }
        session.receiveEarly(early)
        return true
    }

    func sessionDidClose(_ session: Session, reason: CloseReason) {
        scheduler.sessions[session.token] = nil
        partialLines[session.token] = nil
        context.connectionCount.wrappingSubtract(1, ordering: .relaxed)
        context.logger.info("connection closed: \(reason)", connection: session.id, peer: session.peer)
        if shutdownDeadlineMs != nil && scheduler.sessions.isEmpty { reactor.stop() }
    }

    func sessionHoldsPartialLine(_ session: Session) {
        partialLines[session.token] = session
        armIdleCheck(restart: false)
    }

    func sessionReleasedPartialLine(_ session: Session) {
        partialLines[session.token] = nil
    }

    private func closeAll(reason: CloseReason) {
        for session in Array(scheduler.sessions.values) { session.close(reason: reason) }
        listener?.close()
        listener = nil
        secureListener?.close()
        secureListener = nil
        metrics?.close()
        metrics = nil
        secureMetrics?.close()
        secureMetrics = nil
    }

    // MARK: - Timers

    /// Checks incomplete lines against `idle_timeout_ms` while any is held.
    private func armIdleCheck(restart: Bool) {
        if restart, let idleCheck {
            reactor.cancelTimer(idleCheck)
            self.idleCheck = nil
        }
        let limit = core.settings.idleTimeoutMs
        guard idleCheck == nil, limit > 0, !partialLines.isEmpty else { return }
        let period = Int64(min(1000, max(10, limit / 4)))
        idleCheck = reactor.addTimer(at: monotonicMilliseconds() + period) { [unowned self] in
            idleCheck = nil
            closeIdleSessions()
            armIdleCheck(restart: false)
        }
    }

    private func closeIdleSessions() {
        let limit = Int64(core.settings.idleTimeoutMs)
        guard limit > 0 else { return }
        let now = monotonicMilliseconds()
        for session in Array(partialLines.values) {
            guard let since = session.partialSinceMs, now - since >= limit else { continue }
            partialLines[session.token] = nil
            context.logger.info("idle timeout: incomplete line held for \(now - since) ms", connection: session.id, peer: session.peer)
            session.sayGoodbye(.idleTimeout, "no complete line for \(limit) ms", reason: .idleTimeout)
        }
    }

    /// Loop 0 publishes `$SYS.stats` every `stats_interval_ms`.
    private func armStatisticsTimer() {
        if let statsTimer { reactor.cancelTimer(statsTimer) }
        statsTimer = nil
        let interval = core.settings.statsIntervalMs
        guard index == 0, interval > 0 else { return }
        statsTimer = reactor.addTimer(at: monotonicMilliseconds() + Int64(interval)) { [unowned self] in
            statsTimer = nil
            core.publishSystemEvent(SystemTopics.stats, context.statisticsLine())
            armStatisticsTimer()
        }
    }

    /// Loop 0 frees the topics whose linger ran out (``TopicStore/sweepLingering(nowMs:)``).
    private func sweep() {
        reactor.addTimer(at: monotonicMilliseconds() + LocalTopicStore.lingerSweepIntervalMs) { [unowned self] in sweep() }
        let freed = core.store.sweepLingering(nowMs: monotonicMilliseconds())
        if freed > 0 { context.logger.debug("freed \(freed) lingering topic(s)") }
    }

    // MARK: - Metrics

    private func serveMetrics(_ socket: consuming SocketHandle, requestDeadlineMs: Int64, secure: Bool) {
        guard (secure ? secureMetrics : metrics) == nil, shutdownDeadlineMs == nil else { return }
        let token = reactor.reserveToken()
        socket.configureListener(keepaliveSeconds: core.settings.tcpKeepaliveS)
        let endpoint = MetricsEndpoint(socket: socket, token: token, reactor: reactor, context: context, core: core,
                                       mailbox: mailbox, requestDeadlineMs: requestDeadlineMs, secure: secure)
        endpoint.adoptWebSocket = { [unowned self] fd, peer, handshake, early, tls in
            adoptWebSocket(fd: fd, peer: peer, handshake: handshake, early: early, tls: tls)
        }
        do {
            try reactor.register(endpoint.socket.fd, events: EpollBits.readable, token: token, handler: endpoint)
            if secure { secureMetrics = endpoint } else { metrics = endpoint }
        } catch {
            context.logger.error("metrics: cannot watch the listener: \(error)")
        }
    }

    // MARK: - Shutdown

    private func beginShutdown(deadlineMs: Int64) {
        guard shutdownDeadlineMs == nil else { return }
        shutdownDeadlineMs = deadlineMs
        listener?.close()
        listener = nil
        secureListener?.close()
        secureListener = nil
        metrics?.close()
        metrics = nil
        secureMetrics?.close()
        secureMetrics = nil
        for session in Array(scheduler.sessions.values) {
            session.sayGoodbye(.shuttingDown, "the broker is shutting down", reason: .shutdown)
        }
        if scheduler.sessions.isEmpty {
            reactor.stop()
            return
        }
        reactor.addTimer(at: deadlineMs) { [unowned self] in reactor.stop() }
    }
}
