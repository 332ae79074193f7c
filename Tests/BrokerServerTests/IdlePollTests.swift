// The adaptive poll before an idle loop sleeps (IdlePollWindow): the window's rules, and the
// loop using it (or not) over real TCP.
import Testing
@testable import Broker

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
        var window = IdlePollWindow(limitMicroseconds: 100)
        for _ in 0..<5 { window.record(gapNs: 99 * microsecond) }
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
        var window = IdlePollWindow(limitMicroseconds: 1000)
        for _ in 0..<8 { window.record(gapNs: 900 * microsecond) }
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
    private func roundTripsUntilAPollHit(_ broker: InProcessBroker, _ client: TestClient, limit: Int) throws -> Int {
        for trip in 1...limit {
            #expect(try client.request("PING \(trip)") == "PONG \(trip)")
            if broker.server.idlePollHits > 0 { return trip }
        }
        return limit
    }

    @Test func backToBackRequestsAreCaughtByThePollThenAReloadToZeroStopsIt() throws {
        // A 1 ms limit: any round trip shorter than that makes the loop poll through the next gap.
        try withBroker({ $0.threads = 1; $0.idlePollUs = 1000 }) { broker in
            let client = try broker.connect()
            _ = try roundTripsUntilAPollHit(broker, client, limit: 20_000)
            #expect(broker.server.idlePollHits > 0, "no wait ended while polling in 20,000 round trips")

            var config = BrokerConfig()
            config.idlePollUs = 0
            try broker.server.apply(config)  // returns once every loop has the new settings
            let hits = broker.server.idlePollHits
            for trip in 0..<500 { #expect(try client.request("PING \(trip)") == "PONG \(trip)") }
            #expect(broker.server.idlePollHits == hits)
        }
    }

    @Test func withPollingOffEveryIdleWaitSleeps() throws {
        try withBroker({ $0.threads = 1; $0.idlePollUs = 0 }) { broker in
            let client = try broker.connect()
            let subscriber = try broker.connect()
            #expect(try subscriber.request("SUB t") == "OK")
            for trip in 0..<500 {
                #expect(try client.request("PUB t \(trip)") == "OK 1")
                #expect(try subscriber.line() == "MSG t \(trip)")
            }
            #expect(broker.server.idlePollHits == 0)
        }
    }
}
