// A broker without sockets or threads: the command core, the scheduler and sessions, driven by a test.
import Posix
import Glibc

/// The broker's whole protocol side — ``CommandCore``, ``DeliveryScheduler``,
/// ``Session``s, a ``LocalTopicStore`` — with no sockets, no threads and no
/// reactor, as swift-nio's `EmbeddedChannel` runs handlers: a test connects
/// ``EmbeddedSession``s, feeds them bytes, calls ``run()`` to deliver, and reads
/// what each session would have written.
///
/// What it does not model: timers (the idle timeout, `$SYS.stats`, the sweep
/// of idle pattern topics) and the socket options; the TCP tests cover those.
///
/// One thread: everything, including the rings' wake-ups, happens on the
/// thread that drives it. The broker must outlive its sessions: hold it while
/// the sessions are used (they refer to it without keeping it alive).
final class EmbeddedBroker: SessionHost {

    let context: ServerContext
    let core: CommandCore
    let scheduler: DeliveryScheduler
    private(set) var services: SessionServices!
    private let buffers = LoopIOBuffers()
    /// What the subscriptions' cursors wake: the scheduler, reached without
    /// keeping the broker alive (cursors live in the store, which the broker owns).
    private let wakes: EmbeddedWakes
    private var nextToken: UInt64 = 1

    /// A broker with `config`'s live settings (`capacity`, limits, `auth_token`), over the
    /// context's local store or the store `makeStore` makes from it.
    init(config: BrokerConfig = BrokerConfig(), authToken: String? = nil,
         makeStore: ((LocalTopicStore) -> any TopicStore)? = nil) {
        let settings = LiveSettings(config, authToken: authToken)
        context = ServerContext(settings: settings, logger: Logger(level: .error) { _ in })
        core = CommandCore(context: context, settings: settings, store: makeStore?(context.store))
        scheduler = DeliveryScheduler(core: core)
        core.findSession = { [unowned scheduler] token in scheduler.sessions[token] }
        wakes = EmbeddedWakes(scheduler: scheduler)
        core.cursorScheduler = wakes
        services = SessionServices(core: core, scheduler: scheduler, host: self, buffers: buffers)
    }

    /// Closes what is still open, so that the store lets go of every cursor.
    deinit {
        for session in Array(scheduler.sessions.values) { session.close(reason: .shutdown) }
    }

    /// A new client session.
    func connect(peer: String = "embedded") -> EmbeddedSession {
        let token = nextToken
        nextToken += 1
        let id = context.nextConnectionID.wrappingAdd(1, ordering: .relaxed).oldValue
        let session = EmbeddedSession(id: id, token: token, peer: peer, broker: self)
        context.connectionCount.wrappingAdd(1, ordering: .relaxed)
        scheduler.sessions[token] = session
        return session
    }

    /// Delivers until nothing is pending: woken cursors go to their sessions,
    /// every dirty session is flushed (within each peer's read window).
    func run() {
        var turns = 0
        defer { assert(turns < 100_000, "the embedded broker did not settle in 100,000 turns") }
        while turns < 100_000 {
            turns += 1
            if scheduler.hasPendingWork || scheduler.hasCoalescedWork {
                scheduler.processWokenCursors()
                scheduler.flushAll()
                continue
            }
            // Input held while a session was paused goes in once it reads again.
            var fed = false
            for case let session as EmbeddedSession in scheduler.sessions.values where session.canTakeInput {
                session.pump()
                fed = true
            }
            if !fed { return }
        }
    }

    /// Sessions open now.
    var sessionCount: Int { scheduler.sessions.count }

    /// Runs the linger sweep as if the monotonic clock read `nowMs` (the server's
    /// loop 0 runs it on a timer), then delivers; returns how many topics it freed.
    @discardableResult
    func sweepLingering(nowMs: Int64) -> Int {
        let freed = context.store.sweepLingering(nowMs: nowMs)
        run()
        return freed
    }

    // MARK: SessionHost

    func sessionDidClose(_ session: Session, reason: CloseReason) {
        scheduler.sessions[session.token] = nil
        context.connectionCount.wrappingSubtract(1, ordering: .relaxed)
    }

    // No idle timer in memory (see the type's doc): incomplete lines are not watched.
    func sessionHoldsPartialLine(_ session: Session) {}

    func sessionReleasedPartialLine(_ session: Session) {}
}

/// The embedded broker's ``CursorScheduler``: a ring's wake-up goes straight to
/// the scheduler (everything runs on one thread).
final class EmbeddedWakes: CursorScheduler, @unchecked Sendable {
    // @unchecked Sendable: required of a CursorScheduler; an embedded broker is
    // used by one thread only, so `schedule` always runs on it.

    /// `unowned(unsafe)`: the broker owns the scheduler and closes every session
    /// (dropping every cursor) before it goes.
    private unowned(unsafe) let scheduler: DeliveryScheduler

    init(scheduler: DeliveryScheduler) { self.scheduler = scheduler }

    override func schedule(_ cursor: Cursor) { scheduler.wake(cursor) }
}

/// A session of an ``EmbeddedBroker``: what it writes is appended to
/// ``written``; ``readWindow`` models a peer that reads slowly (nil: it takes
/// everything). One thread.
final class EmbeddedSession: Session {
    /// Everything written to the peer so far, not yet taken by ``take()``.
    private(set) var written: [UInt8] = []
    /// Bytes the peer will still take before the transport is full; nil = no limit.
    /// Setting it (to more room) makes the session writable again, as EPOLLOUT would.
    var readWindow: Int? {
        get { window }
        set {
            window = newValue
            if watchingWrites && (newValue ?? 1) > 0 {
                broker.scheduler.markDirty(self)
                broker.run()
            }
        }
    }
    private var window: Int?
    /// Whether the session asked to hear when it can write.
    private(set) var watchingWrites = false
    /// Whether the session wants input now (false while paused or ending).
    private(set) var wantsInput = true
    /// Bytes sent by the client that the session did not take yet (it paused).
    private var unread: [UInt8] = []
    /// The client closed its side; the session has not read the EOF yet.
    private var eofPending = false
    /// Why it closed, once closed.
    var closeReason: CloseReason? {
        if case let .closed(reason) = state { return reason }
        return nil
    }
    /// The broker; the test holds it for as long as it uses the session
    /// (`unowned`: a session used after its broker is gone traps).
    private unowned let broker: EmbeddedBroker

    init(id: UInt64, token: UInt64, peer: String, broker: EmbeddedBroker) {
        self.broker = broker
        super.init(id: id, token: token, peer: peer, services: broker.services)
    }

    /// The client sends `text` (lines with their LF); the broker reads it as a
    /// transport would — what the session does not take while paused waits —
    /// and delivers. Returns self, for chaining.
    @discardableResult
    func send(_ text: String) -> EmbeddedSession { send(bytes: Array(text.utf8)) }

    /// The client sends raw bytes.
    @discardableResult
    func send(bytes: [UInt8]) -> EmbeddedSession {
        unread += bytes
        pump()
        broker.run()
        return self
    }

    /// The client closes its side (EOF): the session sees it once it has read
    /// every byte sent before, as from a socket.
    func sendEOF() {
        eofPending = true
        pump()
        broker.run()
    }

    /// Takes what was written so far, as text.
    func take() -> String {
        defer { written.removeAll() }
        return String(decoding: written, as: UTF8.self)
    }

    /// Takes what was written so far, as bytes.
    func takeBytes() -> [UInt8] {
        defer { written.removeAll() }
        return written
    }

    /// Takes what was written so far, as lines without their LF.
    func takeLines() -> [String] {
        take().split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    /// True when bytes wait and the session reads.
    var canTakeInput: Bool { (!unread.isEmpty || eofPending) && wantsInput && !state.isEnding }

    /// Feeds unread bytes while the session wants them, in chunks like a socket's
    /// reads, then the EOF if the client sent one.
    fileprivate func pump() {
        while !unread.isEmpty && wantsInput && !state.isEnding {
            let chunk = Array(unread.prefix(64 * 1024))
            unread.removeFirst(chunk.count)
            let more = chunk.withUnsafeBytes { receive($0) }
            if !more { break }
        }
        if unread.isEmpty && eofPending && wantsInput && !state.isEnding {
            eofPending = false
            peerClosed()
        }
    }

    override func transportWrite(_ output: inout OutputQueue) throws(SystemError) -> IOResult<Int> {
        if window == 0 { return .wouldBlock }
        let buffers = broker.services.buffers
        let window = self.window
        let outcome = output.write(vectors: buffers.vectors, staging: buffers.staging) { (pieces: UnsafeBufferPointer<iovec>) -> IOResult<Int> in
            var taken = 0
            for piece in pieces {
                guard let base = piece.iov_base else { continue }
                var length = piece.iov_len
                if let window { length = min(length, window - taken) }
                written.append(contentsOf: UnsafeRawBufferPointer(start: base, count: length))
                taken += length
                if length < piece.iov_len { break }
            }
            return taken == 0 ? .wouldBlock : .done(taken)
        }
        if case let .done(count) = outcome, let window { self.window = window - count }
        return outcome
    }

    override func transportWatch(reading: Bool, writing: Bool) throws(SystemError) {
        wantsInput = reading
        watchingWrites = writing
    }

    override func transportClose() {
        wantsInput = false
        watchingWrites = false
    }
}
