// The reactor: one epoll instance, its registrations, timers and cross-thread wake-up. Knows no protocol.
import Posix
import CBrokerShim
import Glibc
import Synchronization

/// Something a reactor calls when its file descriptor is ready. Loop thread only.
protocol ReactorHandler: AnyObject {
    /// The descriptor is ready: `events` holds the epoll bits (readable, writable, hang-up, error).
    func handleEvents(_ events: UInt32)
}

/// What a reactor asks of the code it runs for, once per turn. Loop thread only.
protocol ReactorTurnDelegate: AnyObject {
    /// True when work is waiting, so the next wait must not sleep.
    var hasPendingWork: Bool { get }
    /// How long the next wait may last at most, in ms, when no work is pending but some
    /// waits for input (nil: only the timers limit it).
    var longestWaitMs: Int32? { get }
    /// Called after each batch of events has been dispatched, before timers fire.
    func endOfTurn()
}

extension ReactorTurnDelegate {
    var longestWaitMs: Int32? { nil }
}

/// The key of one registration: a slot in the reactor's table and the slot's
/// generation when it was registered. An event whose generation is not the
/// slot's current one belongs to a registration that has ended (its descriptor
/// number may already be reused) and is ignored.
struct ReactorToken: Hashable, Sendable {
    let rawValue: UInt64

    init(slot: UInt32, generation: UInt32) { rawValue = UInt64(generation) << 32 | UInt64(slot) }
    init(rawValue: UInt64) { self.rawValue = rawValue }

    var slot: Int { Int(UInt32(truncatingIfNeeded: rawValue)) }
    var generation: UInt32 { UInt32(truncatingIfNeeded: rawValue >> 32) }
}

/// A timer of a reactor; cancelled with ``Reactor/cancelTimer(_:)``.
struct ReactorTimer: Hashable, Sendable {
    let id: UInt64
}

/// An epoll event loop that knows nothing of the protocol: descriptors with a
/// handler each, one-shot timers, and a doorbell (an eventfd) through which
/// other threads wake it.
///
/// Guarantees:
/// - handlers and timers run on the thread that called ``run(delegate:)``, one at a time;
/// - an event reaches the handler of the registration it was reported for,
///   never a later registration that reuses the descriptor number or the slot;
/// - a wait sleeps no longer than the nearest timer (at most 1 s), and not at
///   all while the delegate has work pending; before sleeping it polls for up to
///   the adaptive idle-poll window (``IdlePollWindow``).
///
/// Threads: ``wake()`` from any thread; everything else on the loop thread only,
/// asserted in debug builds.
final class Reactor {
    /// One row of the registration table.
    private struct Slot {
        /// Bumped when the slot is freed, so stale events miss.
        var generation: UInt32 = 0
        /// The handler while registered.
        var handler: (any ReactorHandler)?
    }

    /// A pending timer: when it fires (monotonic ms) and what it runs.
    private struct PendingTimer {
        var id: UInt64
        var deadlineMs: Int64
        var body: () -> Void
    }

    /// The token of the doorbell's registration (never a table slot).
    static let doorbellToken = UInt64.max

    private let epoll: Epoll
    /// The doorbell other threads ring, and the loop thread's identity.
    let waker: ReactorWaker
    private var doorbell: EventFD { waker.doorbell }
    /// Runs when the doorbell rang (the loop drains its inbox there).
    var onDoorbell: () -> Void = {}
    private var slots: [Slot] = []
    private var freeSlots: [UInt32] = []
    private var timers: [PendingTimer] = []
    /// The earliest deadline among `timers` (`Int64.max` when there is none), so
    /// a turn with nothing due looks at one number, not at every timer.
    private var earliestDeadlineMs = Int64.max
    private var nextTimerID: UInt64 = 1
    private var idlePoll: IdlePollWindow
    /// Where each wait's events land.
    private let events: UnsafeMutableBufferPointer<epoll_event>
    /// Where the mid-turn polls' events land (they may run while `events` is being dispatched).
    private let pollEvents: UnsafeMutableBufferPointer<epoll_event>
    /// Cleared by ``stop()``: the loop returns after the current turn.
    private var running = true
    /// Idle waits that ended with an event found while polling (read by tests on any thread).
    let idlePollHits = RelaxedCounter()

    init(idlePollMicroseconds: Int) throws(SystemError) {
        epoll = try Epoll()
        waker = ReactorWaker(doorbell: try EventFD())
        idlePoll = IdlePollWindow(limitMicroseconds: idlePollMicroseconds)
        events = .allocate(capacity: 256)
        pollEvents = .allocate(capacity: 64)
        try epoll.add(doorbell.fd, events: EpollBits.readable, token: Reactor.doorbellToken)
    }

    deinit {
        events.deallocate()
        pollEvents.deallocate()
    }

    // MARK: - Threads

    /// True on the thread running the loop.
    var inLoop: Bool { waker.isLoopThread }

    /// Traps in debug builds when called off the loop thread (once the loop runs).
    @inline(__always)
    func assertInLoop(file: StaticString = #fileID, line: UInt = #line) {
        assert(!waker.isRunning || waker.isLoopThread, "called off the reactor's thread", file: file, line: line)
    }

    /// Wakes the loop from its wait; the doorbell handler runs on the loop. Any thread.
    func wake() { waker.wake() }

    // MARK: - Registrations

    /// Reserves a registration's token, for a handler that needs it before it
    /// is registered; pass it to ``register(_:events:token:handler:)`` next.
    func reserveToken() -> ReactorToken {
        assertInLoop()
        let slot: UInt32
        if let free = freeSlots.popLast() {
            slot = free
        } else {
            slot = UInt32(slots.count)
            slots.append(Slot())
        }
        return ReactorToken(slot: slot, generation: slots[Int(slot)].generation)
    }

    /// Watches `fd` for `events` under the reserved `token`, calling `handler`
    /// when it is ready. On failure the token is given back.
    func register(_ fd: Int32, events: UInt32, token: ReactorToken, handler: any ReactorHandler) throws(SystemError) {
        assertInLoop()
        do {
            try epoll.add(fd, events: events, token: token.rawValue)
        } catch {
            freeSlots.append(UInt32(token.slot))
            throw error
        }
        slots[token.slot].handler = handler
    }

    /// Changes what `fd`, registered as `token`, is watched for.
    func modify(_ fd: Int32, token: ReactorToken, events: UInt32) throws(SystemError) {
        assertInLoop()
        try epoll.modify(fd, events: events, token: token.rawValue)
    }

    /// Stops watching `fd` and forgets its handler; events already reported for it
    /// are ignored. A no-op for a registration that has already ended (so its
    /// descriptor, which may be closed by now, is not touched).
    func deregister(_ fd: Int32, token: ReactorToken) {
        assertInLoop()
        guard isRegistered(token) else { return }
        epoll.remove(fd)
        let slot = token.slot
        slots[slot].handler = nil
        slots[slot].generation &+= 1
        freeSlots.append(UInt32(slot))
    }

    /// Stops watching `fd` for `pauseMs`, then watches it for `events` again, if
    /// its registration `token` is still open then (a listener that ran out of
    /// descriptors waits instead of spinning on a readable socket it cannot accept).
    func pause(_ fd: Int32, token: ReactorToken, forMs pauseMs: Int64, thenWatch events: UInt32) {
        try? modify(fd, token: token, events: 0)
        addTimer(at: monotonicMilliseconds() + pauseMs) { [unowned self] in
            guard isRegistered(token) else { return }  // ended meanwhile: its descriptor may be closed
            try? modify(fd, token: token, events: events)
        }
    }

    /// Whether `token`'s registration is still open.
    func isRegistered(_ token: ReactorToken) -> Bool {
        token.slot < slots.count && slots[token.slot].generation == token.generation && slots[token.slot].handler != nil
    }

    /// Registrations open now.
    var registrationCount: Int { slots.count - freeSlots.count }

    // MARK: - Timers

    /// Runs `body` on the loop once, at `deadlineMs` (monotonic ms) or soon after.
    @discardableResult
    func addTimer(at deadlineMs: Int64, _ body: @escaping () -> Void) -> ReactorTimer {
        assertInLoop()
        let id = nextTimerID
        nextTimerID += 1
        timers.append(PendingTimer(id: id, deadlineMs: deadlineMs, body: body))
        earliestDeadlineMs = min(earliestDeadlineMs, deadlineMs)
        return ReactorTimer(id: id)
    }

    /// Cancels a timer that has not fired; a no-op otherwise.
    func cancelTimer(_ timer: ReactorTimer) {
        assertInLoop()
        timers.removeAll { $0.id == timer.id }
        earliestDeadlineMs = timers.lazy.map(\.deadlineMs).min() ?? .max
    }

    /// Runs the timers whose deadline has passed.
    private func fireDueTimers(now: Int64) {
        guard earliestDeadlineMs <= now else { return }
        var due: [PendingTimer] = []
        timers.removeAll { timer in
            guard timer.deadlineMs <= now else { return false }
            due.append(timer)
            return true
        }
        earliestDeadlineMs = timers.lazy.map(\.deadlineMs).min() ?? .max
        // A timer's body may add timers (which lower `earliestDeadlineMs` itself).
        for timer in due.sorted(by: { $0.deadlineMs < $1.deadlineMs }) { timer.body() }
    }

    // MARK: - The loop

    /// Changes the idle-poll limit (a configuration reload).
    func setIdlePoll(microseconds: Int) { idlePoll.setLimit(microseconds: microseconds) }

    /// Runs until ``stop()``: waits, dispatches events, lets `delegate` finish
    /// the turn, fires due timers. Call on the thread that owns the reactor.
    func run(delegate: any ReactorTurnDelegate) throws(SystemError) {
        waker.enterLoop()
        defer {
            waker.leaveLoop()
            // What the loop held goes with it, however it ended: handlers and timer
            // closures may refer back to their owner, so keeping them would keep it alive.
            timers.removeAll()
            earliestDeadlineMs = .max
            for index in slots.indices { slots[index].handler = nil }
            onDoorbell = {}
        }
        onDoorbell()  // takes what arrived before the loop started
        while running {
            let count = try waitForEvents(pending: delegate.hasPendingWork, longest: delegate.longestWaitMs)
            dispatch(events, count: count)
            delegate.endOfTurn()
            fireDueTimers(now: monotonicMilliseconds())
        }
    }

    /// Makes ``run(delegate:)`` return after the current turn. Loop thread.
    func stop() { running = false }

    /// Dispatches the events ready now, without waiting: for a long turn that
    /// wants input that arrived meanwhile. Loop thread, inside a turn.
    func pollNow() {
        guard let count = try? epoll.wait(into: pollEvents, timeoutMs: 0) else { return }
        dispatch(pollEvents, count: count)
    }

    private func dispatch(_ batch: UnsafeMutableBufferPointer<epoll_event>, count: Int) {
        for position in 0..<count {
            let event = batch[position]
            let raw = event.data.u64
            if raw == Reactor.doorbellToken {
                doorbell.drain()
                onDoorbell()
                continue
            }
            let token = ReactorToken(rawValue: raw)
            let slot = token.slot
            // A handler earlier in this batch may have ended this registration.
            guard slot < slots.count, slots[slot].generation == token.generation,
                  let handler = slots[slot].handler else { continue }
            handler.handleEvents(event.events)
        }
    }

    /// The wait's timeout: 0 with work pending, else the nearest timer, at most 1 s.
    private func timeoutMs(pending: Bool, longest: Int32?) -> Int32 {
        if pending { return 0 }
        let limit = longest.map { min(1000, max(0, $0)) } ?? 1000
        guard earliestDeadlineMs != .max else { return limit }
        return Int32(max(0, min(Int64(limit), earliestDeadlineMs - monotonicMilliseconds())))
    }

    /// Waits for the next events: at once when work is pending; else polls for up
    /// to the idle-poll window and then sleeps until an event or the nearest timer
    /// (``IdlePollWindow/wait(timeoutMs:now:poll:block:)``).
    private func waitForEvents(pending: Bool, longest: Int32?) throws(SystemError) -> Int {
        let timeout = timeoutMs(pending: pending, longest: longest)
        if timeout == 0 { return try epoll.wait(into: events, timeoutMs: 0) }
        let (count, polled) = try idlePoll.wait(
            timeoutMs: timeout, now: monotonicNanoseconds,
            poll: { () throws(SystemError) in try self.epoll.wait(into: self.events, timeoutMs: 0) },
            block: { (timeoutMs: Int32) throws(SystemError) in try self.epoll.wait(into: self.events, timeoutMs: timeoutMs) })
        // Counted at once, not per turn: a hit comes after idle time, so it costs no
        // busy time, and a test reading the count after a reload sees it settled.
        if polled { idlePollHits.add(1) }
        return count
    }
}

/// A reactor's face to other threads: its doorbell, and which thread runs it.
///
/// Any thread. Holds no reference to the reactor, so whoever keeps it (a
/// channel's waker, another loop) keeps no loop alive.
final class ReactorWaker: Sendable {
    /// The eventfd the reactor watches.
    let doorbell: EventFD
    /// The running loop's thread (`pthread_self`), 0 when no loop runs.
    private let threadID = Atomic<UInt>(0)

    init(doorbell: EventFD) { self.doorbell = doorbell }

    /// Rings the doorbell. Any thread.
    func wake() { doorbell.signal() }

    /// True on the thread that runs the reactor's loop now.
    var isLoopThread: Bool { threadID.load(ordering: .relaxed) == ReactorWaker.currentThread }

    /// True while a loop runs.
    var isRunning: Bool { threadID.load(ordering: .relaxed) != 0 }

    fileprivate func enterLoop() { threadID.store(ReactorWaker.currentThread, ordering: .relaxed) }
    fileprivate func leaveLoop() { threadID.store(0, ordering: .relaxed) }

    private static var currentThread: UInt { UInt(bitPattern: Int(bitPattern: UInt(pthread_self()))) }
}
