// One client's protocol session: framing, state, subscriptions and output, over any transport.
import Posix
import Glibc
import Protocol

/// One client's session: its framer, its ``SessionState``, its subscriptions,
/// the cursors ready to deliver, and its ``OutputQueue``. It does not know what
/// carries its bytes: a transport feeds it with ``receive(_:)`` and
/// ``peerClosed()``, and writes for it when asked through the three transport
/// hooks (``transportWrite(_:)``, ``transportWatch(reading:writing:)``,
/// ``transportClose()``), which each transport's subclass provides (TCP today,
/// in memory for tests; a WebSocket transport is another subclass, not a change
/// here).
///
/// Commands run through the loop's ``CommandCore``; deliveries are scheduled by
/// its ``DeliveryScheduler``. Loop thread only.
class Session {
    /// The session id shown in logs (unique for the process).
    final let id: UInt64
    /// The key of this session in its loop (a reactor token for TCP).
    final let token: UInt64
    /// The peer's `ip:port`, or the transport's description of it.
    final let peer: String
    /// The loop's core, scheduler and host. `unowned(unsafe)`: the loop owns its
    /// services and closes every session before they go.
    final unowned(unsafe) let services: SessionServices
    /// Splits input into lines.
    final var framer: LineFramer
    /// What is still to be written. Unchecked exclusivity: touched on every
    /// delivery (callgrind: two run-time checks per delivery otherwise).
    @exclusivity(unchecked)
    final var output = OutputQueue()
    /// Where the session is in its life.
    final var state = SessionState.reading
    // The one-byte fields sit together, after `state`, to share its padding.
    /// Whether commands other than AUTH and QUIT may run.
    final var access: SessionAccess
    /// The `acl_file` user it logged in as; nil: no limits (no users configured, or `AUTH <token>`).
    final var user: UserGrant?
    /// True while on the scheduler's list of sessions to flush this turn.
    final var isQueuedForFlush = false
    /// The protocol version of the frames written from now on (`HELLO`): 1 or 2.
    final var protocolVersion: UInt8 = 1
    /// Messages this session published since its input last started or resumed
    /// (see ``publishQuota``).
    final var publishedSinceInput: UInt32 = 0
    /// Subscriptions by their SUB string (and group).
    final var subscriptions = SubscriptionTable()
    /// Cursors that may have messages to write, served round-robin (unchecked
    /// exclusivity: on the delivery path).
    @exclusivity(unchecked)
    final var ready: [Cursor] = []
    /// Since when (monotonic ms) an incomplete line has been held, if one is.
    final var partialSinceMs: Int64? {
        get { partialSince == Session.noPartialLine ? nil : partialSince }
        set { partialSince = newValue ?? Session.noPartialLine }
    }
    /// ``partialSinceMs`` stored as a plain `Int64` (8 bytes where the optional took
    /// 16), ``noPartialLine`` standing for nil.
    private final var partialSince = Session.noPartialLine
    /// The topic of the last PUB, reused while it is not retired (unchecked
    /// exclusivity: passed `inout` to the store on every PUB, 89 instructions of
    /// run-time check each otherwise).
    @exclusivity(unchecked)
    final var publishCache: Topic?
    /// The figures of this session's cursors that have lagged, by cursor (most never lag:
    /// a cursor keeps no field for them, ``lagFigures(of:)``). Loop thread.
    final var lags: [ObjectIdentifier: CursorLag] = [:]
    /// The `BPUB` whose payload the framer is reading, if any (boxed: most
    /// connections never have one, and an idle connection stays small).
    final var pendingBinaryPublish: PendingBinaryPublish?
    /// Bytes read from and written to this connection, and the messages it published and
    /// was delivered (for `/api/v1/connections`; added once per read, write or batch).
    final var bytesIn: UInt64 = 0
    final var bytesOut: UInt64 = 0
    final var messagesIn: UInt64 = 0
    final var messagesOut: UInt64 = 0
    /// When the connection opened (Unix time, ms).
    final let openedAtUnixMs = unixMilliseconds()

    /// What carries this session, as `/api/v1/connections` names it.
    var transportName: String { "tcp" }

    init(id: UInt64, token: UInt64, peer: String, services: SessionServices) {
        self.id = id
        self.token = token
        self.peer = peer
        self.services = services
        framer = LineFramer(maxLineBytes: services.core.settings.maxLineBytes)
        let settings = services.core.settings
        access = settings.authToken == nil && settings.access.list == nil ? .granted : .needsAuth
    }

    // MARK: - Transport hooks (each transport's subclass provides them)

    /// Writes from the front of `output` what the peer takes now.
    func transportWrite(_ output: inout OutputQueue) throws(SystemError) -> IOResult<Int> {
        preconditionFailure("a Session subclass provides transportWrite")
    }

    /// Asks the transport to report readiness for input and/or output.
    /// Throws when it cannot (the session then closes).
    func transportWatch(reading: Bool, writing: Bool) throws(SystemError) {
        preconditionFailure("a Session subclass provides transportWatch")
    }

    /// Releases the transport (called once, when the session closes).
    func transportClose() {
        preconditionFailure("a Session subclass provides transportClose")
    }

    /// The reading half of a socket transport's events: `read` while the session reads (told
    /// whether the peer has shut its side: then a short read is known to be the last), or a
    /// close on a hang-up once the peer is known gone. False when the session closed.
    @inline(__always)
    final func handleReadEvents(_ events: UInt32, _ read: (_ peerHungUp: Bool) -> Void) -> Bool {
        guard events & (EpollBits.readable | EpollBits.hangup | EpollBits.error | EpollBits.readHangup) != 0 else { return true }
        if case .reading = state {
            read(events & EpollBits.readHangup != 0)
        } else if events & (EpollBits.hangup | EpollBits.error) != 0 && peerGone {
            close(reason: .peerReset)
            return false
        }
        return true
    }

    /// Reads `socket` into the loop's read buffer up to `reads` times while it has bytes,
    /// handing each chunk to `take` (false: stop reading for now); closes on an error and
    /// reports end of file (``peerClosed()``). With `peerHungUp` (the event said the peer shut
    /// its side, so everything it sent is already here), a read that does not fill the buffer
    /// took the last bytes: the end of file is reported without another read to see it.
    /// The read loop of every socket transport.
    @inline(__always)
    final func readSocket(_ socket: borrowing SocketHandle, reads: Int, peerHungUp: Bool,
                          _ take: (UnsafeMutableRawBufferPointer) -> Bool) {
        let buffer = services.buffers.read
        for _ in 0..<reads {
            let outcome: IOResult<Int>
            do {
                outcome = try socket.read(into: buffer)
            } catch {
                close(reason: error.errno == ECONNRESET ? .peerReset : .readError(errno: error.errno))
                return
            }
            guard case let .done(count) = outcome else { return }
            if count == 0 {
                peerClosed()
                return
            }
            if !take(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])) { return }
            if count < buffer.count {
                if peerHungUp { peerClosed() }
                break
            }
        }
    }

    /// Reads decrypted bytes from `link` into the loop's read buffer up to `reads` times,
    /// handing each chunk to `take` (false: stop reading for now); closes when TLS fails and
    /// reports the end of the stream (``peerClosed()``). Decrypted bytes TLS still holds
    /// afterwards are read on the next turn (the socket will not announce them). The read loop
    /// of every transport over TLS.
    final func readTLS(_ link: TLSLink, reads: Int, reactor: Reactor, _ take: (UnsafeMutableRawBufferPointer) -> Bool) {
        let buffer = services.buffers.read
        for _ in 0..<reads {
            let outcome: IOResult<Int>
            do {
                outcome = try link.read(into: buffer)
            } catch {
                services.core.logger.info("TLS read failed: \(link.lastFailure?.reason ?? "\(error)")", connection: id, peer: peer)
                close(reason: .tls(.readFailed))
                return
            }
            guard case let .done(count) = outcome else {
                if link.readWaitsForWritable { updateInterest() }
                return
            }
            if count == 0 {
                peerClosed()
                return
            }
            if !take(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])) { return }
        }
        readBufferedTLS(link, reactor: reactor)
    }

    /// The events of an established transport over TLS: `read` as ``handleReadEvents(_:_:)``
    /// calls it (also on a writable event when TLS needs one to go on reading), then a flush
    /// when the socket turned ready and output waits (a write may have waited on either).
    @inline(__always)
    final func handleTLSEvents(_ events: UInt32, _ link: TLSLink, _ read: (_ peerHungUp: Bool) -> Void) {
        let turned = link.readWaitsForWritable && events & EpollBits.writable != 0 ? EpollBits.readable : 0
        guard handleReadEvents(events | turned, read) else { return }
        if events & (EpollBits.writable | EpollBits.readable) != 0, !state.isClosed, !output.isEmpty {
            services.scheduler.markDirty(self)
        }
    }

    /// Writes the front of `output` through `link` (nothing before its handshake completed),
    /// logging OpenSSL's reason when it fails. The write of every transport over TLS.
    final func writeTLS(_ link: TLSLink, _ output: inout OutputQueue) throws(SystemError) -> IOResult<Int> {
        guard link.isEstablished else { return .wouldBlock }
        let buffers = services.buffers
        do {
            return try output.write(vectors: buffers.vectors, staging: buffers.staging) { pieces throws(SystemError) in
                try link.write(pieces: pieces, staging: buffers.tlsRecord)
            }
        } catch {
            if let failure = link.lastFailure {
                services.core.logger.info("TLS write failed: \(failure.reason)", connection: id, peer: peer)
            }
            throw error
        }
    }

    /// Schedules a read on the next turn when TLS holds decrypted bytes and the session reads.
    final func readBufferedTLS(_ link: TLSLink, reactor: Reactor) {
        guard case .reading = state, link.hasBufferedInput else { return }
        link.scheduleBufferedRead(on: reactor) { [weak self] in
            guard let self, case .reading = state, let handler = self as? ReactorHandler else { return }
            handler.handleEvents(EpollBits.readable)
        }
    }

    // MARK: - Input

    /// `partialSince` when no incomplete line is held (no monotonic clock reads it).
    private static let noPartialLine = Int64.min

    /// Unread replies above which input is paused (TCP backpressure).
    static let replyHighWater = 256 * 1024

    /// How many messages one connection publishes before its input pauses until its
    /// replies are written: an eighth of the ring capacity. A turn reads at most four
    /// chunks, so one publisher adds at most half a ring between two delivery phases,
    /// and a subscriber that keeps up with the publisher's rate never lags because the
    /// broker read a large burst at once. Publishers are not slowed by subscribers:
    /// the pause ends as soon as the publisher's own replies are written.
    static func publishQuota(capacity: Int) -> UInt32 {
        UInt32(clamping: max(64, capacity / 8))
    }

    /// Bytes from the peer: runs every complete line. Returns false when input
    /// should stop for now (paused or ending).
    @discardableResult
    final func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard case .reading = state else { return false }
        let core = services.core  // once per read, not per line
        core.stats.bytesIn.add(UInt64(bytes.count))
        bytesIn &+= UInt64(bytes.count)
        publishedSinceInput = 0
        var completedLine = false
        let decision = framer.feed(bytes) { event in execute(event, core: core, completedLine: &completedLine) }
        messagesIn &+= UInt64(publishedSinceInput)
        core.countPublishes()
        notePartialLine(completedLine: completedLine)
        // The replies of every line of this read go out in one flush.
        if !output.isEmpty { services.scheduler.markDirty(self) }
        if state.isEnding { return false }
        if decision == .pause {
            state = .paused(eofPending: false)
            updateInterest()
            return false
        }
        return true
    }

    /// The peer closed its side: the complete lines already received run, their
    /// replies are written, then the session closes.
    final func peerClosed() {
        switch state {
        case .reading: finishAfterEOF()
        case .paused: state = .paused(eofPending: true)  // resumes after the replies drain
        case let .closing(reason, _): state = .closing(reason: reason, peerGone: true)
        case .closed: break
        }
    }

    /// Whether the peer is known to have closed its side (a hang-up then means a reset).
    final var peerGone: Bool {
        switch state {
        case let .paused(eofPending): eofPending
        case let .closing(_, peerGone): peerGone
        case .reading, .closed: false
        }
    }

    /// Executes one framed line; pauses the framer when replies back up or the session ends.
    private final func execute(_ event: FramerEvent, core: CommandCore, completedLine: inout Bool) -> FramerDecision {
        if state.isEnding { return .pause }  // QUIT or BYE: nothing after it runs
        completedLine = true
        switch event {
        case let .line(line):
            let decision = core.run(line, on: self)
            // A BPUB's payload is read whatever the replies: it is never taken for commands.
            if decision != .proceed && !state.isEnding { return decision }
        case .lineTooLong:
            let limit = core.settings.maxLineBytes
            core.reply(self) { WireEncoder.appendErr(ProtocolError(.lineTooLong, "line is longer than \(limit) bytes"), to: &$0) }
        case let .payload(bytes):
            core.finishBinaryPublish(payload: bytes, on: self)
        case .payloadSkipped:
            core.finishBinaryPublish(payload: nil, on: self)
        case .badFraming:
            core.refuseFraming(on: self)
        }
        if state.isEnding || output.pendingControlBytes >= Session.replyHighWater { return .pause }
        // A burst of publishes yields to deliveries (see `publishQuota`).
        if publishedSinceInput >= Session.publishQuota(capacity: core.settings.capacity) { return .pause }
        return .proceed
    }

    /// Tracks whether an incomplete line is held, for the idle timeout.
    private final func notePartialLine(completedLine: Bool) {
        if framer.hasPartialLine && !framer.isPaused {
            // A line completed in this read means the incomplete one began in it too.
            if partialSinceMs == nil || completedLine {
                partialSinceMs = monotonicMilliseconds()
                services.host.sessionHoldsPartialLine(self)
            }
        } else if partialSinceMs != nil {
            partialSinceMs = nil
            services.host.sessionReleasedPartialLine(self)
        }
    }

    /// Goes on with input kept at a pause once replies have drained.
    private final func resumeInput() {
        guard case let .paused(eofPending) = state else { return }
        state = .reading
        let core = services.core
        publishedSinceInput = 0
        var completedLine = false
        let decision = framer.resume { event in execute(event, core: core, completedLine: &completedLine) }
        messagesIn &+= UInt64(publishedSinceInput)
        core.countPublishes()
        notePartialLine(completedLine: completedLine)
        if state.isEnding { return }
        if decision == .pause {
            state = .paused(eofPending: eofPending)
        } else if eofPending {
            finishAfterEOF()
            return
        }
        updateInterest()
    }

    private final func finishAfterEOF() {
        framer.reset()
        notePartialLine(completedLine: false)
        dropSubscriptions()
        state = .closing(reason: .peerClosed, peerGone: true)
        // No interest change here: the flush this turn ends with either closes the session or
        // asks for exactly what it needs (one epoll_ctl fewer per connection that closes).
        services.scheduler.markDirty(self)
    }

    // MARK: - Output

    /// Writes pending replies and messages until the transport is full or nothing is left.
    final func flush() {
        var budget = 4 << 20  // bytes per session per turn, for fairness
        while true {
            if output.isEmpty, !state.isEnding {
                let scheduler = services.scheduler
                let delivered = scheduler.turnDelivered
                if output.carriesWebSocket { scheduler.gatherWebSocket(for: self) } else { scheduler.gather(for: self) }
                messagesOut &+= scheduler.turnDelivered &- delivered
            }
            // The loop's frames scratch, lent to the batch just gathered, is given back at the
            // end of this step whatever happens in it (nothing to write, a transport that did
            // not write, an error): the next session's batch reuses it.
            defer { output.returnFramesScratch() }
            if output.isEmpty { break }
            let outcome: IOResult<Int>
            do {
                outcome = try transportWrite(&output)
            } catch {
                close(reason: (error.errno == EPIPE || error.errno == ECONNRESET) ? .peerReset : .writeError(errno: error.errno))
                return
            }
            guard case let .done(written) = outcome else { break }  // full: wait until writable
            services.core.stats.bytesOut.add(UInt64(written))
            bytesOut &+= UInt64(written)
            budget -= written
            if !output.isEmpty { break }  // partial write: the transport is full
            if budget <= 0 {
                if !ready.isEmpty { services.scheduler.markDirty(self) }
                break
            }
        }
        if output.isEmpty {
            if case let .closing(reason, _) = state {
                close(reason: reason)
                return
            }
            if case .paused = state, output.pendingControlBytes < Session.replyHighWater / 2 {
                resumeInput()
                if state.isClosed { return }
                if !output.isEmpty { services.scheduler.markDirty(self) }
            }
        }
        updateInterest()
    }

    /// A reply the output queue kept a place for was written there: the session writes
    /// what it held back at the end of this turn.
    final func replyArrived() {
        guard !state.isClosed else { return }
        services.scheduler.markDirty(self)
    }

    /// Asks the transport for exactly what the session needs now.
    final func updateInterest() {
        guard !state.isClosed else { return }
        var reading = false
        if case .reading = state { reading = true }
        do {
            try transportWatch(reading: reading, writing: !output.isEmpty && !output.isWaitingForReply)
        } catch {
            close(reason: .writeError(errno: error.errno))
        }
    }

    // MARK: - Ending

    /// Writes `BYE` and closes once it is written (or at the shutdown deadline).
    final func sayGoodbye(_ code: ErrorCode, _ text: String, reason: CloseReason) {
        switch state {
        case .closed: return
        case .closing where reason != .shutdown: return
        default: break
        }
        dropSubscriptions()
        // The framer is not reset here: this may run inside its own callback. Input
        // stops (closing pauses it) and `close` frees what it holds.
        state = .closing(reason: reason, peerGone: peerGone)
        output.appendControl { WireEncoder.appendBye(code, text, to: &$0) }
        updateInterest()
        services.scheduler.markDirty(self)
    }

    /// Stops running commands: the queued output is written, then the session closes.
    final func closeAfterFlush(reason: CloseReason) {
        guard !state.isEnding else { return }
        dropSubscriptions()
        state = .closing(reason: reason, peerGone: false)
        updateInterest()
    }

    /// Ends every subscription of the session (its cursors stop at once).
    final func dropSubscriptions() {
        let store = services.core.store
        subscriptions.forEach { store.unsubscribe($0) }
        if !subscriptions.isEmpty { services.core.stats.subscriptions.subtract(UInt64(subscriptions.count)) }
        subscriptions.removeAll()
        lags.removeAll()
        for cursor in ready { cursor.isQueued = false }
        ready.removeAll()
        publishCache = nil
    }

    /// Closes now: drops subscriptions and unwritten output, releases the transport.
    final func close(reason: CloseReason) {
        guard !state.isClosed else { return }
        state = .closed(reason)
        dropSubscriptions()
        output.removeAll()
        framer.reset()
        transportClose()
        services.host.sessionDidClose(self, reason: reason)
    }
}

/// What a loop does for its sessions beyond the core and the scheduler: it
/// keeps their table and their idle timers. Loop thread only.
protocol SessionHost: AnyObject {
    /// The session closed (its transport is released); forget it.
    func sessionDidClose(_ session: Session, reason: CloseReason)
    /// The session began holding an incomplete line (``Session/partialSinceMs`` is set).
    func sessionHoldsPartialLine(_ session: Session)
    /// The session no longer holds an incomplete line.
    func sessionReleasedPartialLine(_ session: Session)
}

/// What every session of one loop uses: the command core, the delivery
/// scheduler, and the loop itself as their host. Loop thread only.
///
/// Every reference here is `unowned(unsafe)`: the loop (or the embedded broker)
/// owns the core, the scheduler, the buffers and these services, and closes every
/// session before they go. Unowned, reading one costs no reference counting on
/// the delivery path (callgrind, one write per delivery: a retain and a release
/// per flush and per write otherwise).
final class SessionServices {
    unowned(unsafe) let core: CommandCore
    unowned(unsafe) let scheduler: DeliveryScheduler
    /// The loop.
    unowned(unsafe) let host: any SessionHost
    /// Scratch for transports' reads and writes, shared by the loop's sessions.
    unowned(unsafe) let buffers: LoopIOBuffers

    init(core: CommandCore, scheduler: DeliveryScheduler, host: any SessionHost, buffers: LoopIOBuffers) {
        self.core = core
        self.scheduler = scheduler
        self.host = host
        self.buffers = buffers
    }
}

/// A `BPUB` line already parsed whose payload is still on its way.
final class PendingBinaryPublish {
    /// The topic, copied from the line (at most 255 bytes).
    let topic: [UInt8]
    /// The reply owed once the payload is off the wire, when the command is refused.
    let refusal: ProtocolError?

    init(topic: [UInt8], refusal: ProtocolError?) {
        self.topic = topic
        self.refusal = refusal
    }
}

extension Session {
    /// The lag figures of `cursor`, one of this session's, made at its first lag. A cursor's
    /// figures go when it is dropped (``forgetLags(of:)``, ``forgetLags(ofSubscription:)``);
    /// as a backstop, those of cursors dropped otherwise go when the table reaches a power
    /// of two (an entry holds its cursor: an identifier is never reused while in it). Loop thread.
    func lagFigures(of cursor: Cursor) -> CursorLag {
        if cursor.hasLagged, let figures = lags[ObjectIdentifier(cursor)] { return figures }
        if lags.count >= 16 && lags.count.nonzeroBitCount == 1 {
            lags = lags.filter { !$0.value.cursor.isDetached }
        }
        let made = CursorLag(cursor: cursor)
        lags[ObjectIdentifier(cursor)] = made
        cursor.hasLagged = true
        return made
    }

    /// Messages `cursor`, one of this session's, missed in all (`/api/v1/connections`). Loop thread.
    func missedTotal(of cursor: Cursor) -> UInt64 {
        cursor.hasLagged ? lags[ObjectIdentifier(cursor)]?.missedTotal ?? 0 : 0
    }

    /// Lets go of the lag figures of a dropped cursor. Loop thread.
    func forgetLags(of cursor: Cursor) {
        if cursor.hasLagged { lags[ObjectIdentifier(cursor)] = nil }
    }

    /// Lets go of the lag figures of `subscription`'s cursors (before it is unsubscribed:
    /// they still name it). Loop thread.
    func forgetLags(ofSubscription subscription: Subscription) {
        if !lags.isEmpty { lags = lags.filter { $0.value.cursor.subscription !== subscription } }
    }
}
