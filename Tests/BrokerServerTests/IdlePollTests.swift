// The adaptive poll before an idle loop sleeps (IdlePollWindow): the window's rules, and the
// loop using it (or not) over real TCP.
import Testing
@testable import Broker

extension IdlePollWindow {
    /// A window with the given limit after `steps` gaps of exactly the limit: each
    /// doubles it (10, 20, 40, … µs), up to the limit.
    static func grown(limitMicroseconds: Int, steps: Int) -> IdlePollWindow {
        var window = IdlePollWindow(limitMicroseconds: limitMicroseconds)
        for _ in 0..<steps { window.record(gapNs: window.limitNs) }
        return window
    }
}

@Suite struct IdlePollWindowTests {
    private let microsecond: Int64 = 1000

    @Test func gapsWithinTheLimitDoubleTheWindowFromTheStartUpToTheLimit() {
        var window = IdlePollWindow(limitMicroseconds: 100)
        #expect(window.windowNs == 0)
        var windows: [Int64] = []
        for _ in 0..<6 {
            window.record(gapNs: 99 * microsecond)
            windows.append(window.windowNs / microsecond)
        }
        #expect(windows == [10, 20, 40, 80, 100, 100])
    }

    @Test func aGapTheWindowCoveredLeavesItAsItIs() {
        var window = IdlePollWindow(limitMicroseconds: 100)
        window.record(gapNs: 50 * microsecond)
        window.record(gapNs: 50 * microsecond)
        #expect(window.windowNs == 20 * microsecond)
        window.record(gapNs: 20 * microsecond)
        window.record(gapNs: 1)
        #expect(window.windowNs == 20 * microsecond)
    }

    @Test func gapsBeyondTheLimitAndTimeoutsHalveTheWindowThenStopThePoll() {
        var window = IdlePollWindow.grown(limitMicroseconds: 100, steps: 5)
        #expect(window.windowNs == 100 * microsecond)
        window.record(gapNs: 100 * microsecond + 1)
        #expect(window.windowNs == 50 * microsecond)
        window.record(gapNs: nil)
        #expect(window.windowNs == 25 * microsecond)
        window.record(gapNs: 5_000_000)
        #expect(window.windowNs == 12_500)
        window.record(gapNs: nil)  // 6.25 µs is below the 10 µs start: no poll at all
        #expect(window.windowNs == 0)
        window.record(gapNs: nil)
        #expect(window.windowNs == 0)
    }

    @Test func aLimitOfZeroNeverPolls() {
        var window = IdlePollWindow(limitMicroseconds: 0)
        for gap: Int64? in [1, 0, 5 * microsecond, nil, 1] { window.record(gapNs: gap) }
        #expect(window.windowNs == 0)
        #expect(window.limitNs == 0)
    }

    @Test func aLimitBelowTheStartPollsForTheLimit() {
        var window = IdlePollWindow(limitMicroseconds: 4)
        window.record(gapNs: 3 * microsecond)
        #expect(window.windowNs == 4 * microsecond)
        window.record(gapNs: 5 * microsecond)
        #expect(window.windowNs == 0)
    }

    @Test func changingTheLimitKeepsTheWindowWithinIt() {
        var window = IdlePollWindow.grown(limitMicroseconds: 1000, steps: 8)
        #expect(window.windowNs == 1000 * microsecond)
        window.setLimit(microseconds: 300)
        #expect(window.windowNs == 300 * microsecond)
        window.setLimit(microseconds: 600)
        #expect(window.windowNs == 300 * microsecond)
        window.setLimit(microseconds: 0)
        #expect(window.windowNs == 0)
        window.record(gapNs: 1)
        #expect(window.windowNs == 0)
        window.setLimit(microseconds: -5)
        #expect(window.limitNs == 0)
    }
}

@Suite struct IdlePollTests {
    /// Round trips until a wait of the loop ends while it is still polling, at most `limit`.
    private func roundTripsUntilAPollHit(_ broker: InProcessBroker, _ client: TestClient, limit: Int) throws {
        for trip in 1...limit {
            #expect(try client.request("PING \(trip)") == "PONG \(trip)")
            if broker.server.idlePollHits > 0 { return }
        }
    }

    @Test func backToBackRequestsAreCaughtByThePollThenAReloadToZeroStopsIt() throws {
        // A 1 ms limit: any round trip shorter than that makes the loop poll through the next gap.
        try withBroker({ $0.threads = 1; $0.idlePollUs = 1000 }) { broker in
            let client = try broker.connect()
            try roundTripsUntilAPollHit(broker, client, limit: 20_000)
            #expect(broker.server.idlePollHits > 0, "no wait ended while polling in 20,000 round trips")

            var config = BrokerConfig()
            config.idlePollUs = 0
            try broker.server.apply(config)  // returns once every loop has the new settings
            let hits = broker.server.idlePollHits
            for trip in 0..<500 { #expect(try client.request("PING \(trip)") == "PONG \(trip)") }
            #expect(broker.server.idlePollHits == hits)
        }
    }
}

/// A scripted clock and event source for ``IdlePollWindow/wait(timeoutMs:now:poll:block:)``:
/// each poll advances the clock by `pollCostNs` and finds events once `eventAtNs` is reached;
/// a block finds them when `eventAtNs` falls within its timeout.
private final class ScriptedWait {
    var clockNs: Int64 = 1_000_000_000
    var eventAtNs: Int64?
    let pollCostNs: Int64
    var polls = 0
    var blocks: [Int32] = []

    init(pollCostNs: Int64 = 1000) { self.pollCostNs = pollCostNs }

    func wait(_ window: inout IdlePollWindow, timeoutMs: Int32) -> (count: Int, polled: Bool) {
        window.wait(
            timeoutMs: timeoutMs,
            now: { self.clockNs },
            poll: {
                self.polls += 1
                self.clockNs += self.pollCostNs
                guard let at = self.eventAtNs, at <= self.clockNs else { return 0 }
                return 1
            },
            block: { timeoutMs in
                self.blocks.append(timeoutMs)
                let deadline = self.clockNs + Int64(timeoutMs) * 1_000_000
                guard let at = self.eventAtNs, at <= deadline else { self.clockNs = deadline; return 0 }
                self.clockNs = max(self.clockNs, at)
                return 1
            })
    }
}

@Suite struct IdlePollWaitTests {
    private let microsecond: Int64 = 1000

    @Test func aClosedWindowSleepsAtOnceAndLearnsFromTheGap() {
        var window = IdlePollWindow(limitMicroseconds: 100)
        let script = ScriptedWait()
        script.eventAtNs = script.clockNs + 30 * microsecond
        let result = script.wait(&window, timeoutMs: 1000)
        #expect(result.count == 1 && !result.polled)
        #expect(script.polls == 0)
        #expect(script.blocks == [1000])
        #expect(window.windowNs == 10 * microsecond)  // a 30 µs gap: a longer window would have caught it
    }

    @Test func anEventWithinTheWindowIsFoundByPollingAndLeavesTheWindow() {
        var window = IdlePollWindow.grown(limitMicroseconds: 100, steps: 3)
        #expect(window.windowNs == 40 * microsecond)
        let script = ScriptedWait()
        script.eventAtNs = script.clockNs + 25 * microsecond
        let result = script.wait(&window, timeoutMs: 1000)
        #expect(result.count == 1 && result.polled)
        #expect(script.polls == 25)
        #expect(script.blocks == [])
        #expect(window.windowNs == 40 * microsecond)
    }

    @Test func aLatePollHitDoesNotMoveTheWindow() {
        // One slow poll (a preempted thread) returns after the window: still a hit, no change.
        var window = IdlePollWindow(limitMicroseconds: 100)
        window.record(gapNs: 50 * microsecond)
        let script = ScriptedWait(pollCostNs: 500 * microsecond)
        script.eventAtNs = script.clockNs + 1
        let result = script.wait(&window, timeoutMs: 1000)
        #expect(result.polled)
        #expect(window.windowNs == 10 * microsecond)
    }

    @Test func pollingUntilTheWindowEndsThenSleepingForWhatIsLeftOfTheTimeout() {
        var window = IdlePollWindow.grown(limitMicroseconds: 1000, steps: 8)
        #expect(window.windowNs == 1000 * microsecond)
        let script = ScriptedWait()
        script.eventAtNs = script.clockNs + 1500 * microsecond
        let result = script.wait(&window, timeoutMs: 20)
        #expect(result.count == 1 && !result.polled)
        #expect(script.polls == 1000)
        #expect(script.blocks == [19])  // 1 ms of the 20 ms timeout went on polling
        #expect(window.windowNs == 500 * microsecond)  // the 1.5 ms gap exceeded the limit
    }

    @Test func aTimeoutWithoutEventsHalvesTheWindow() {
        var window = IdlePollWindow.grown(limitMicroseconds: 100, steps: 5)
        let script = ScriptedWait()
        let result = script.wait(&window, timeoutMs: 5)
        #expect(result.count == 0 && !result.polled)
        #expect(script.polls == 100)
        #expect(script.blocks == [5])  // 100 µs of polling is not a whole millisecond
        #expect(window.windowNs == 50 * microsecond)
    }

    @Test func withTheLimitAtZeroItOnlySleeps() {
        var window = IdlePollWindow(limitMicroseconds: 0)
        let script = ScriptedWait()
        for gap: Int64 in [1, 5 * microsecond, 50 * microsecond] {
            script.eventAtNs = script.clockNs + gap
            #expect(script.wait(&window, timeoutMs: 1000).polled == false)
        }
        #expect(script.polls == 0)
        #expect(script.blocks == [1000, 1000, 1000])
        #expect(window.windowNs == 0)
    }
}
