// The adaptive poll before an idle loop sleeps (IdleSpin): the window's rules, and the
// loop using it (or not) over real TCP.
import Testing
@testable import Broker

@Suite struct IdleSpinWindowTests {
    private let microsecond: Int64 = 1000

    @Test func gapsWithinTheLimitDoubleTheWindowFromTheStartUpToTheLimit() {
        var spin = IdleSpin(limitMicroseconds: 100)
        #expect(spin.windowNs == 0)
        var windows: [Int64] = []
        for _ in 0..<6 {
            spin.record(gapNs: 99 * microsecond)
            windows.append(spin.windowNs / microsecond)
        }
        #expect(windows == [10, 20, 40, 80, 100, 100])
    }

    @Test func aGapTheWindowCoveredLeavesItAsItIs() {
        var spin = IdleSpin(limitMicroseconds: 100)
        spin.record(gapNs: 50 * microsecond)
        spin.record(gapNs: 50 * microsecond)
        #expect(spin.windowNs == 20 * microsecond)
        spin.record(gapNs: 20 * microsecond)
        spin.record(gapNs: 1)
        #expect(spin.windowNs == 20 * microsecond)
    }

    @Test func gapsBeyondTheLimitAndTimeoutsHalveTheWindowThenStopThePoll() {
        var spin = IdleSpin(limitMicroseconds: 100)
        for _ in 0..<5 { spin.record(gapNs: 99 * microsecond) }
        #expect(spin.windowNs == 100 * microsecond)
        spin.record(gapNs: 100 * microsecond + 1)
        #expect(spin.windowNs == 50 * microsecond)
        spin.record(gapNs: nil)
        #expect(spin.windowNs == 25 * microsecond)
        spin.record(gapNs: 5_000_000)
        #expect(spin.windowNs == 12_500)
        spin.record(gapNs: nil)  // 6.25 µs is below the 10 µs start: no poll at all
        #expect(spin.windowNs == 0)
        spin.record(gapNs: nil)
        #expect(spin.windowNs == 0)
    }

    @Test func aLimitOfZeroNeverPolls() {
        var spin = IdleSpin(limitMicroseconds: 0)
        for gap: Int64? in [1, 0, 5 * microsecond, nil, 1] { spin.record(gapNs: gap) }
        #expect(spin.windowNs == 0)
        #expect(spin.limitNs == 0)
    }

    @Test func aLimitBelowTheStartPollsForTheLimit() {
        var spin = IdleSpin(limitMicroseconds: 4)
        spin.record(gapNs: 3 * microsecond)
        #expect(spin.windowNs == 4 * microsecond)
        spin.record(gapNs: 5 * microsecond)
        #expect(spin.windowNs == 0)
    }

    @Test func changingTheLimitKeepsTheWindowWithinIt() {
        var spin = IdleSpin(limitMicroseconds: 1000)
        for _ in 0..<8 { spin.record(gapNs: 900 * microsecond) }
        #expect(spin.windowNs == 1000 * microsecond)
        spin.setLimit(microseconds: 300)
        #expect(spin.windowNs == 300 * microsecond)
        spin.setLimit(microseconds: 600)
        #expect(spin.windowNs == 300 * microsecond)
        spin.setLimit(microseconds: 0)
        #expect(spin.windowNs == 0)
        spin.record(gapNs: 1)
        #expect(spin.windowNs == 0)
        spin.setLimit(microseconds: -5)
        #expect(spin.limitNs == 0)
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
