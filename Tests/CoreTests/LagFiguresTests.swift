// A cursor's lag figures live in its session (most cursors never lag): made at the first
// LAGGED, added to, and let go when the subscription ends.
import Testing
@testable import Broker

@Suite struct LagFiguresTests {
    /// Publishes 500 messages to `t` while `slow` reads nothing (capacity 8), then lets it read
    /// everything: it has lagged. Returns the messages its `LAGGED` lines announced missed.
    @discardableResult
    private func lag(_ slow: EmbeddedSession, on broker: EmbeddedBroker) -> UInt64 {
        slow.readWindow = 0
        let publisher = broker.connect()
        publisher.send((0..<500).map { "PUB t \($0)\n" }.joined())
        _ = publisher.takeLines()
        slow.readWindow = nil
        return slow.takeLines().compactMap(laggedCount).reduce(0, +)
    }

    @Test func aLaggingCursorsFiguresAreItsSessionsAndGoWithItsSubscription() throws {
        let broker = embedded { $0.capacity = 8 }
        let slow = broker.connect()
        _ = slow.exchange("SUB t", "SUB quiet")
        let cursor = try #require(slow.subscriptions[Array("t".utf8)]?.cursors.first)
        let quiet = try #require(slow.subscriptions[Array("quiet".utf8)]?.cursors.first)
        #expect(!cursor.hasLagged && slow.lags.isEmpty && slow.missedTotal(of: cursor) == 0)
        let missed = lag(slow, on: broker)
        #expect(missed > 0)
        #expect(cursor.hasLagged && !quiet.hasLagged)
        #expect(slow.lags.count == 1)
        #expect(slow.missedTotal(of: cursor) == missed)
        #expect(slow.missedTotal(of: quiet) == 0)
        #expect(slow.exchange("UNSUB t") == ["OK"])
        #expect(slow.lags.isEmpty, "the ended subscription's figures are let go")
        _ = slow.exchange("UNSUB quiet")
    }

    @Test func aClosedSessionLetsGoOfItsLagFigures() {
        let broker = embedded { $0.capacity = 8 }
        let slow = broker.connect()
        _ = slow.exchange("SUB t")
        lag(slow, on: broker)
        #expect(slow.lags.count == 1)
        slow.sendEOF()
        broker.run()
        #expect(slow.isClosed)
        #expect(slow.lags.isEmpty)
    }
}
