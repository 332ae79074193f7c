// One event-loop thread: an epoll instance, the connections it owns, and its inbox.
import Channels
import CBrokerShim
import Glibc
import Protocol
import Synchronization

/// What other threads send into a loop, through its mpsc inbox.
enum LoopCommand: Sendable {
    /// A cursor of one of this loop's connections has messages (sent by a ring on another thread).
    case wake(Cursor)
    /// A freshly accepted socket for this loop to own (the connection count was already taken).
    case adopt(fd: Int32, peer: SocketAddress)
    /// The settings or shutdown watch changed: read them, then acknowledge on `ack`.
    case watchesChanged(ack: OneshotSender<Void>?)
}

/// What the server hands every loop: the live settings and the shutdown deadline
/// (monotonic ms; nil while running), each as a watch channel — the latest value
/// is what counts, and a loop that missed intermediate values loses nothing.
struct LoopWatches: Sendable {
    let settings: WatchReceiver<LiveSettings>
    let shutdown: WatchReceiver<Int64?>
}

/// Rings a loop's eventfd when its inbox gets a command while the loop waited.
final class Doorbell: BroadcastWaker {
    let eventFD: EventFD
    init(_ eventFD: EventFD) { self.eventFD = eventFD }
    func wake() { eventFD.signal() }
}

/// An event loop: one thread, one epoll instance, the connections accepted onto it.
///
/// Other threads reach it only through its inbox, an unbounded mpsc channel of
/// ``LoopCommand``s (``schedule(_:)``, ``adopt(fd:peer:)``, ``send(_:)``),
/// whose waker rings the loop's eventfd, and through the two watches of
/// ``LoopWatches``. Everything else is loop thread only.
final class EventLoop: CursorScheduler, @unchecked Sendable {
    // @unchecked Sendable: the cross-thread entry points touch only `inboxSender`
    // (an mpsc sender), `doorbell` (an eventfd) and `threadID` (an Atomic). Every other
    // stored property is read and written only on the loop's own thread, after
    // `run()` has started on it.

    static let doorbellToken = UInt64.max
    static let listenerToken = UInt64.max - 1

    let index: Int
    let context: ServerContext
    private let inboxSender: MpscUnboundedSender<LoopCommand>
    private let inbox: MpscReceiver<LoopCommand>
    private let doorbell: Doorbell
    private let watches: LoopWatches
    private let threadID = Atomic<UInt>(0)

    // Loop-thread state.
    let epoll: Epoll
    var settings: LiveSettings
    @exclusivity(unchecked)
    var connections: [UInt64: Connection] = [:]
    var generation: UInt32 = 0
    /// Cursors woken on this thread, to be moved to their connection's ready list.
    @exclusivity(unchecked)
    var wokenCursors: [Cursor] = []
    /// Connections with output to write this turn: replies and the like.
    var dirty: [Connection] = []
    /// Connections with output to write this turn because a cursor of theirs was
    /// woken: deliveries (see ``flushDirty()`` for the order).
    @exclusivity(unchecked)
    var dirtyForDelivery: [Connection] = []
    /// The lists being worked through, swapped with the three above so that new
    /// entries can be added meanwhile without a new array each turn.
    private var wokenInProgress: [Cursor] = []
    private var dirtyInProgress: [Connection] = []
    private var deliveriesInProgress: [Connection] = []
    /// Whether the last flush phase's writes were small (subscribers keeping up).
    private var lastTurnKeptUp = true
    /// Where the input polls between flushes land (see ``flushDirty()``).
    private let pollEvents: UnsafeMutableBufferPointer<epoll_event>
    /// Connections flushed between two input polls in a long flush phase.
    static let flushesPerInputPoll = 8
    /// Input is polled mid-phase only while the connections flushed since the last
    /// poll took at most this many messages each on average (and at most an eighth
    /// of the ring capacity): subscribers that keep up.
    static let smallBatchMessages = 16
    /// How long to keep polling before sleeping in epoll_wait (see ``waitForEvents(into:)``).
    private var idlePoll: IdlePollWindow
    /// Connections holding an incomplete line (for the idle timeout).
    var partialLines: [UInt64: Connection] = [:]
    /// Where reads land before framing; shared by every connection of the loop.
    let readBuffer: UnsafeMutableRawBufferPointer
    /// Scratch for writev.
    let vectors: UnsafeMutableBufferPointer<iovec>
    /// Scratch into which a write gathers small pieces (see ``OutputQueue``).
    let staging: UnsafeMutableRawBufferPointer
    /// The listening socket, on the loop that accepts (loop 0).
    var listener: Int32?
    /// The loops connections are spread over (set before run).
    var peers: [EventLoop] = []
    var nextPeer = 0
    /// Set once shutdown has begun: the monotonic deadline.
    var shutdownDeadlineMs: Int64?
    /// Cleared when the loop should end.
    var running = true
    /// When accepting resumes after running out of file descriptors.
    var acceptPausedUntilMs: Int64?
    /// Counters added to the server's stats once per turn.
    var turnDelivered: UInt64 = 0
    /// When loop 0 next publishes `$SYS.stats` (monotonic ms; 0 = not scheduled yet).
    var nextStatisticsAtMs: Int64 = 0
    /// When this loop next frees idle topics kept only by its pattern subscriptions.
    var nextSweepAtMs: Int64 = monotonicMilliseconds() + EventLoop.sweepIntervalMs
    /// How often idle pattern-only topics are freed.
    static let sweepIntervalMs: Int64 = 2000

    init(index: Int, context: ServerContext, watches: LoopWatches) throws(SystemError) {
        self.index = index
        self.context = context
        self.watches = watches
        self.settings = watches.settings.borrowAndUpdate()
        self.idlePoll = IdlePollWindow(limitMicroseconds: settings.idlePollUs)
        (inboxSender, inbox) = Mpsc.unbounded(of: LoopCommand.self)
        self.epoll = try Epoll()
        self.doorbell = Doorbell(try EventFD())
        self.readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
        self.vectors = UnsafeMutableBufferPointer<iovec>.allocate(capacity: 1024)
        self.vectors.initialize(repeating: iovec())
        self.staging = UnsafeMutableRawBufferPointer.allocate(byteCount: 128 * 1024, alignment: 16)
        self.pollEvents = UnsafeMutableBufferPointer<epoll_event>.allocate(capacity: 64)
        try epoll.add(doorbell.eventFD.fd, events: EpollBits.readable, token: EventLoop.doorbellToken)
    }

    deinit {
        readBuffer.deallocate()
        vectors.deallocate()
        staging.deallocate()
        pollEvents.deallocate()
    }

    // MARK: - Cross-thread entry points

    var isOnLoopThread: Bool { threadID.load(ordering: .relaxed) == UInt(bitPattern: Int(bitPattern: UInt(pthread_self()))) }

    /// A cursor has messages (called by a ring after a send). Any thread.
    func schedule(_ cursor: Cursor) {
        if isOnLoopThread {
            wokenCursors.append(cursor)
            return
        }
        send(.wake(cursor))
    }

    /// Hands a freshly accepted socket to this loop. Any thread.
    func adopt(fd: Int32, peer: SocketAddress) {
        send(.adopt(fd: fd, peer: peer))
    }

    /// Sends a command to this loop. Any thread. After the loop has ended the
    /// command is dropped (an adopted socket is closed).
    func send(_ command: LoopCommand) {
        do {
            try inboxSender.send(command)
        } catch {
            if case let .adopt(fd, _) = error.value {
                Socket.close(fd)
                context.connectionCount.wrappingSubtract(1, ordering: .relaxed)
            }
        }
    }

    // MARK: - The loop

    /// Runs until shutdown completes. Call on the loop's own thread.
    func run() {
        threadID.store(UInt(bitPattern: Int(bitPattern: UInt(pthread_self()))), ordering: .relaxed)
        let events = UnsafeMutableBufferPointer<epoll_event>.allocate(capacity: 256)
        defer { events.deallocate() }
        drainInbox()  // takes what arrived before the loop started, and arms the inbox's waker
        while running {
            let count: Int
            do {
                count = try waitForEvents(into: events)
            } catch {
                context.logger.error("event loop \(index): \(error)")
                break
            }
            for position in 0..<count { dispatch(events[position]) }
            processWokenCursors()
            flushDirty()
            checkTimers()
        }
        closeAll(reason: .shutdown)
    }

    private func dispatch(_ event: epoll_event) {
        let token = event.data.u64
        switch token {
        case EventLoop.doorbellToken: drainInbox()
        case EventLoop.listenerToken: acceptConnections()
        default: handle(event: event.events, token: token)
        }
    }

    /// Waits for the next events: at once when work is pending; else polls for up
    /// to the idle-poll window and then sleeps until an event or the nearest timer
    /// (``IdlePollWindow/wait(timeoutMs:now:poll:block:)``).
    private func waitForEvents(into events: UnsafeMutableBufferPointer<epoll_event>) throws(SystemError) -> Int {
        let timeout = nextTimeoutMs()
        if timeout == 0 { return try epoll.wait(into: events, timeoutMs: 0) }
        let (count, polled) = try idlePoll.wait(
            timeoutMs: timeout, now: monotonicNanoseconds,
            poll: { () throws(SystemError) in try self.epoll.wait(into: events, timeoutMs: 0) },
            block: { (timeoutMs: Int32) throws(SystemError) in try self.epoll.wait(into: events, timeoutMs: timeoutMs) })
        // Counted at once, not per turn: a hit comes after idle time, so it costs no
        // busy time, and a test reading the count after a reload sees it settled.
        if polled { context.stats.idlePollHits.add(1) }
        return count
    }

    /// The epoll timeout: 0 when work is pending, else the nearest timer, at most 1 s.
    private func nextTimeoutMs() -> Int32 {
        if !dirty.isEmpty || !dirtyForDelivery.isEmpty || !wokenCursors.isEmpty { return 0 }
        if shutdownDeadlineMs != nil { return 20 }
        if acceptPausedUntilMs != nil { return 100 }
        if index == 0 && settings.statsIntervalMs > 0 {
            let untilStats = max(0, nextStatisticsAtMs - monotonicMilliseconds())
            if untilStats < 1000 { return Int32(untilStats) }
        }
        if !partialLines.isEmpty && settings.idleTimeoutMs > 0 { return Int32(min(1000, max(10, settings.idleTimeoutMs / 4))) }
        return 1000
    }

    /// Takes every command from the inbox, then arms its waker for the next one.
    private func drainInbox() {
        doorbell.eventFD.drain()
        withUnsafeTemporaryAllocation(of: LoopCommand.self, capacity: 64) { scratch in
            while true {
                let (count, _) = inbox.readBatch(intoUninitialized: scratch)
                for position in 0..<count { handle(scratch.moveElement(from: position)) }
                if count == scratch.count { continue }
                if inbox.armWaker(doorbell) { return }  // false: more arrived meanwhile
            }
        }
    }

    private func handle(_ command: LoopCommand) {
        switch command {
        case let .wake(cursor): wokenCursors.append(cursor)
        case let .adopt(fd, peer): register(fd: fd, peer: peer)
        case let .watchesChanged(ack):
            readWatches()
            _ = try? ack?.send(())
        }
    }

    /// Applies the latest settings and shutdown deadline if they changed.
    private func readWatches() {
        if (try? watches.settings.hasChanged()) == true { apply(watches.settings.borrowAndUpdate()) }
        if (try? watches.shutdown.hasChanged()) == true, let deadline = watches.shutdown.borrowAndUpdate() {
            beginShutdown(deadlineMs: deadline)
        }
    }

    private func apply(_ newSettings: LiveSettings) {
        settings = newSettings
        idlePoll.setLimit(microseconds: newSettings.idlePollUs)
        for connection in connections.values { connection.framer.maxLineBytes = newSettings.maxLineBytes }
    }

    /// Moves woken cursors onto their connections' ready lists.
    func processWokenCursors() {
        while !wokenCursors.isEmpty {
            swap(&wokenCursors, &wokenInProgress)
            for cursor in wokenInProgress {
                guard cursor.receiver != nil, !cursor.isQueued,
                      let connection = connections[cursor.connectionToken], !connection.isClosed else { continue }
                cursor.isQueued = true
                connection.ready.append(cursor)
                markDirty(connection, forDelivery: true)
            }
            wokenInProgress.removeAll(keepingCapacity: true)
        }
    }

    /// Puts the connection on this turn's flush list (once; the first reason counts).
    func markDirty(_ connection: Connection, forDelivery: Bool = false) {
        if connection.isDirty { return }
        connection.isDirty = true
        if forDelivery { dirtyForDelivery.append(connection) } else { dirty.append(connection) }
    }

    /// Writes every connection on this turn's lists.
    ///
    /// Order: while subscribers keep up (the last turn's writes were small, see
    /// ``subscribersKeepUp(delivered:flushes:capacity:)``), the first delivery goes
    /// before the replies. A publisher's `OK` is queued while its PUB runs, before
    /// the subscribers it reached are woken, so in insertion order a message to one
    /// subscriber waits for the reply's write, and the reader is woken by the reply
    /// first (fanbench latency N = 1, 12 interleaved pairs: p50 −4.7 µs and p99
    /// −6.1 µs, median of the paired differences, 8 of 12 pairs better). When
    /// subscribers are behind, replies go first: a pipelining publisher gets its
    /// acknowledgements while the bulk is written and sends more meanwhile
    /// (delivery first there cost a quarter of the N = 1 fan-out rate, 3.9 → 2.9 M/s).
    private func flushDirty() {
        if dirty.isEmpty && dirtyForDelivery.isEmpty { return }
        swap(&dirty, &dirtyInProgress)
        swap(&dirtyForDelivery, &deliveriesInProgress)
        var sincePoll = 0
        var deliveredAtPoll = turnDelivered
        func flushOne(_ connection: Connection) {
            connection.isDirty = false
            if !connection.isClosed { flush(connection) }
            sincePoll += 1
            if sincePoll == EventLoop.flushesPerInputPoll {
                if EventLoop.subscribersKeepUp(delivered: turnDelivered &- deliveredAtPoll, flushes: sincePoll,
                                               capacity: settings.capacity) {
                    pollInput()
                }
                sincePoll = 0
                deliveredAtPoll = turnDelivered
            }
        }
        let deliveryFirst = lastTurnKeptUp && !deliveriesInProgress.isEmpty
        if deliveryFirst { flushOne(deliveriesInProgress[0]) }
        for connection in dirtyInProgress { flushOne(connection) }
        for connection in deliveriesInProgress.dropFirst(deliveryFirst ? 1 : 0) { flushOne(connection) }
        lastTurnKeptUp = EventLoop.subscribersKeepUp(delivered: turnDelivered,
                                                     flushes: max(1, deliveriesInProgress.count),
                                                     capacity: settings.capacity)
        dirtyInProgress.removeAll(keepingCapacity: true)
        deliveriesInProgress.removeAll(keepingCapacity: true)
        if turnDelivered > 0 {
            context.stats.delivered.add(turnDelivered)
            turnDelivered = 0
        }
    }

    /// Whether the last `flushes` flushes, which wrote `delivered` messages, were
    /// small enough to poll input: at most ``smallBatchMessages`` each on average,
    /// and at most an eighth of the ring `capacity`. Larger writes mean subscribers
    /// are behind; reading publishers sooner would only push them towards a lag.
    static func subscribersKeepUp(delivered: UInt64, flushes: Int, capacity: Int) -> Bool {
        let perFlush = UInt64(min(smallBatchMessages, max(1, capacity / 8)))
        return delivered <= perFlush * UInt64(max(0, flushes))
    }

    /// Handles input that arrived while a long flush phase was under way.
    ///
    /// One write per subscriber per phase makes a phase as long as the fan-out:
    /// 64 subscribers on loopback take ≈ 300 µs. A message published meanwhile
    /// would wait for the whole phase to end, then for its own turn in the next
    /// one (up to two phases). Reading input every few flushes puts it into the
    /// ring at once, so every subscriber not yet written in this phase takes it
    /// in the same write it was getting anyway: no extra writes, only an
    /// `epoll_wait(0)` per few flushes, and half the delay on average. Connections
    /// already flushed get it in the next phase (a wake-up re-queues them).
    ///
    /// Not when the writes are large: then subscribers are behind (a throughput
    /// load), and reading a pipelining publisher more often than once per phase
    /// lets it put up to two publish windows into a ring between two reads of the
    /// same subscriber: with `capacity` ≈ the window, LAGGED where there was none
    /// (fanbench, 256 subscribers: 18.6 M of 40 M messages lagged when polled).
    private func pollInput() {
        context.stats.inputPollsDuringFlush.add(1)
        guard let count = try? epoll.wait(into: pollEvents, timeoutMs: 0) else { return }
        for position in 0..<count { dispatch(pollEvents[position]) }
    }

    private func checkTimers() {
        let now = monotonicMilliseconds()
        publishStatisticsIfDue(now: now)
        if now >= nextSweepAtMs {
            nextSweepAtMs = now + EventLoop.sweepIntervalMs
            sweepIdleTopics()
        }
        if let until = acceptPausedUntilMs, now >= until, let listener {
            acceptPausedUntilMs = nil
            try? epoll.modify(listener, events: EpollBits.readable, token: EventLoop.listenerToken)
        }
        if settings.idleTimeoutMs > 0 && !partialLines.isEmpty {
            let limit = Int64(settings.idleTimeoutMs)
            for connection in Array(partialLines.values) {
                guard let since = connection.partialSinceMs, now - since >= limit else { continue }
                partialLines[connection.token] = nil
                context.logger.info("idle timeout: incomplete line held for \(now - since) ms", connection: connection.id, peer: connection.peer)
                sayGoodbye(connection, code: .idleTimeout, text: "no complete line for \(settings.idleTimeoutMs) ms", reason: .idleTimeout)
            }
        }
        if let deadline = shutdownDeadlineMs {
            if connections.isEmpty || now >= deadline { running = false }
        }
    }

    /// Frees topics that only this loop's pattern subscriptions keep open and
    /// that have nothing left to deliver (see ``TopicRegistry/sweepIdleTopics(of:)``).
    private func sweepIdleTopics() {
        var patterns: [Subscription] = []
        for connection in connections.values {
            for subscription in connection.subscriptions.values where subscription.isPattern {
                patterns.append(subscription)
            }
        }
        if patterns.isEmpty { return }
        let freed = context.registry.sweepIdleTopics(of: patterns)
        if freed > 0 { context.logger.debug("freed \(freed) idle topic(s) kept only by pattern subscriptions") }
    }

    // MARK: - Accepting

    /// Starts accepting on `fd` (loop 0 only), spreading connections over `peers`.
    func listen(on fd: Int32, spreadingOver loops: [EventLoop]) throws(SystemError) {
        listener = fd
        peers = loops
        try epoll.add(fd, events: EpollBits.readable, token: EventLoop.listenerToken)
    }

    private func acceptConnections() {
        guard let listener else { return }
        for _ in 0..<64 {
            let accepted: IOResult<(Int32, SocketAddress)>
            do {
                accepted = try Socket.accept(listener)
            } catch {
                if error.errno == EMFILE || error.errno == ENFILE || error.errno == ENOBUFS || error.errno == ENOMEM {
                    context.logger.warn("cannot accept: \(error); pausing accept for 100 ms")
                    epoll.remove(listener)
                    try? epoll.add(listener, events: 0, token: EventLoop.listenerToken)
                    acceptPausedUntilMs = monotonicMilliseconds() + 100
                    return
                }
                continue  // ECONNABORTED and the like concern only that connection
            }
            guard case let .done((fd, peer)) = accepted else { return }
            let limit = settings.maxConnections
            let open = context.connectionCount.wrappingAdd(1, ordering: .relaxed).newValue
            if limit > 0 && open > limit {
                context.connectionCount.wrappingSubtract(1, ordering: .relaxed)
                var bye: [UInt8] = []
                WireEncoder.appendBye(.tooManyConnections, "the broker has \(limit) connections, its limit", to: &bye)
                _ = Socket.send(fd, bye)
                Socket.close(fd)
                context.logger.warn("refused connection: max_connections \(limit) reached", peer: peer.description)
                continue
            }
            let target = peers.isEmpty ? self : peers[nextPeer % peers.count]
            nextPeer &+= 1
            if target === self { register(fd: fd, peer: peer) } else { target.adopt(fd: fd, peer: peer) }
        }
    }

    /// Takes ownership of an accepted socket (the connection count was already taken).
    private func register(fd: Int32, peer: SocketAddress) {
        if shutdownDeadlineMs != nil {
            var bye: [UInt8] = []
            WireEncoder.appendBye(.shuttingDown, "the broker is shutting down", to: &bye)
            _ = Socket.send(fd, bye)
            Socket.close(fd)
            context.connectionCount.wrappingSubtract(1, ordering: .relaxed)
            return
        }
        Socket.configureConnection(fd, keepaliveSeconds: settings.tcpKeepaliveS)
        generation &+= 1
        let token = UInt64(generation) << 32 | UInt64(UInt32(bitPattern: fd))
        let id = context.nextConnectionID.wrappingAdd(1, ordering: .relaxed).oldValue
        let connection = Connection(fd: fd, id: id, token: token, peer: peer.description, maxLineBytes: settings.maxLineBytes)
        do {
            try epoll.add(fd, events: EpollBits.readable | EpollBits.readHangup, token: token)
        } catch {
            context.logger.error("cannot watch connection: \(error)", connection: id, peer: connection.peer)
            Socket.close(fd)
            context.connectionCount.wrappingSubtract(1, ordering: .relaxed)
            return
        }
        connection.interest = EpollBits.readable | EpollBits.readHangup
        connection.authenticated = settings.authToken == nil
        connections[token] = connection
        context.logger.info("connection opened", connection: id, peer: connection.peer)
    }

    // MARK: - Shutdown

    private func beginShutdown(deadlineMs: Int64) {
        guard shutdownDeadlineMs == nil else { return }
        shutdownDeadlineMs = deadlineMs
        if let listener {
            epoll.remove(listener)
            Socket.close(listener)
            self.listener = nil
        }
        for connection in Array(connections.values) {
            sayGoodbye(connection, code: .shuttingDown, text: "the broker is shutting down", reason: .shutdown)
        }
    }
}
