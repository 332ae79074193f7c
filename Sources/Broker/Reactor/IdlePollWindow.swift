// How long an idle event loop polls before it sleeps in epoll_wait.

/// The adaptive poll window of one event loop: how long to keep polling
/// (`epoll_wait` with timeout 0) before blocking, so that the next event finds
/// the loop awake instead of waking a sleeping CPU.
///
/// A sleeping thread's wake-up costs tens of microseconds on a virtual machine
/// (the idle vCPU halts, and the host must schedule it again); polling through
/// a short gap avoids that at the price of CPU time. The window follows the
/// gaps the loop actually sees:
/// - an event that came within the window: the window stays;
/// - an event that came after the window but within `limitNs`: a longer window
///   would have caught it, so the window doubles (from `startNs`), up to the limit;
/// - no event within the limit (a long gap, or a timer timeout): the window halves,
///   and below `startNs` it is 0: an idle or lightly loaded loop does not poll.
///
/// So a loop polls only while events keep arriving less than `limitNs` apart,
/// and then it uses up to a core. A limit of 0 turns polling off.
/// Pure state: the loop measures the gaps and passes them in.
struct IdlePollWindow {
    /// The longest window, in nanoseconds; 0 = never poll.
    private(set) var limitNs: Int64
    /// The current window, in nanoseconds: 0 or between `startNs` and `limitNs`.
    private(set) var windowNs: Int64 = 0

    /// The window a growing poll starts from.
    var startNs: Int64 { min(limitNs, 10_000) }

    init(limitMicroseconds: Int) {
        limitNs = Int64(max(0, limitMicroseconds)) * 1000
    }

    /// Changes the limit (a configuration reload); the window is kept within it.
    mutating func setLimit(microseconds: Int) {
        limitNs = Int64(max(0, microseconds)) * 1000
        if windowNs > limitNs { windowNs = limitNs }
        if windowNs < startNs { windowNs = 0 }
    }

    /// Adapts the window to one idle gap: the time from the start of polling
    /// (or of the blocking wait) to the event that ended it; nil when the wait
    /// ended without an event (its timeout).
    mutating func record(gapNs: Int64?) {
        guard limitNs > 0 else { windowNs = 0; return }
        guard let gap = gapNs, gap <= limitNs else {
            windowNs /= 2
            if windowNs < startNs { windowNs = 0 }
            return
        }
        if gap > windowNs { windowNs = min(limitNs, max(startNs, windowNs * 2)) }
    }
}

extension IdlePollWindow {
    /// One wait of an idle loop, with the window's rules applied.
    ///
    /// While the window is open, calls `poll` (a non-blocking check that returns
    /// how many events it found) until it finds some or `now()` says the window
    /// has passed; an event found this way leaves the window as it is. Otherwise
    /// calls `block` with what is left of `timeoutMs` (never more, so timers are
    /// not delayed by the poll) and adapts the window to the gap it measured: from
    /// the start of the wait to the events, or nil when `block` found none.
    ///
    /// - Returns: how many events were found, and whether polling found them.
    mutating func wait<Failure: Error>(
        timeoutMs: Int32,
        now: () -> Int64,
        poll: () throws(Failure) -> Int,
        block: (Int32) throws(Failure) -> Int
    ) throws(Failure) -> (count: Int, polled: Bool) {
        guard limitNs > 0 else { return (try block(timeoutMs), false) }
        let start = now()
        var elapsed: Int64 = 0
        if windowNs > 0 {
            while true {
                let count = try poll()
                if count > 0 { return (count, true) }
                elapsed = now() - start
                if elapsed >= windowNs { break }
            }
        }
        let remainingMs = max(0, Int64(timeoutMs) - elapsed / 1_000_000)
        let count = try block(Int32(remainingMs))
        record(gapNs: count > 0 ? now() - start : nil)
        return (count, false)
    }
}
