// A pipelining publisher's burst spread thinly over many sessions is written one turn later,
// coalesced with the next burst (DeliveryScheduler.coalesces): every message still arrives,
// once and in order, and traffic of another shape is never held back.
import Testing
@testable import Broker

@Suite struct CoalescingTests {
    @Test func onlyABurstSpreadThinlyOverManySessionsIsCoalesced() {
        let sessions = DeliveryScheduler.coalescingMinSessions
        let burst = DeliveryScheduler.coalescingMinPublishes
        // A large burst, many sessions, a few messages each (fanbench topics): coalesced.
        #expect(DeliveryScheduler.coalesces(publishes: 1_000, receivers: 1_000, sessions: 100))
        #expect(DeliveryScheduler.coalesces(publishes: burst, receivers: burst, sessions: sessions))
        // A publish at a time, or a small burst, even to many subscribers (the latency
        // workload: 64 subscribers, a few publishes a turn): written at once.
        #expect(!DeliveryScheduler.coalesces(publishes: 1, receivers: 1, sessions: 1))
        #expect(!DeliveryScheduler.coalesces(publishes: 8, receivers: 512, sessions: 64))
        #expect(!DeliveryScheduler.coalesces(publishes: burst - 1, receivers: burst - 1, sessions: 100))
        // Few sessions (fan-in, a handful of subscribers): written at once.
        #expect(!DeliveryScheduler.coalesces(publishes: 1_000, receivers: 1_000, sessions: sessions - 1))
        // A fan-out: every session gets the whole burst, so each write is large.
        #expect(!DeliveryScheduler.coalesces(publishes: 1_000, receivers: 256 * 1_000, sessions: 256))
        #expect(!DeliveryScheduler.coalesces(publishes: 300, receivers: 16 * 100, sessions: 100))
    }

    @Test func aThinlySpreadBurstArrivesWholeAndInOrderAfterCoalescing() throws {
        raiseOpenFileLimit()
        try withBroker({ $0.threads = 1 }) { broker in
            let topics = 64
            let perTopic = 10  // 11 messages a session: fewer than 16, so the burst is thin
            let subscribers = try (0..<topics).map { _ in try broker.connect() }
            for (index, subscriber) in subscribers.enumerated() { #expect(try subscriber.request("SUB t.\(index)") == "OK") }
            let publisher = try broker.connect()
            let before = broker.server.coalescedTurns
            // One write: every topic gets `perTopic` messages, round-robin (one each per
            // round), then an end marker.
            var burst = ""
            for round in 0..<perTopic {
                for index in 0..<topics { burst += "PUB t.\(index) m\(round)\n" }
            }
            for index in 0..<topics { burst += "PUB t.\(index) end\n" }
            try publisher.sendRaw(burst)
            for _ in 0..<(topics * (perTopic + 1)) { try publisher.expectLine("OK 1") }
            for (index, subscriber) in subscribers.enumerated() {
                for round in 0..<perTopic { try subscriber.expectLine("MSG t.\(index) m\(round)") }
                try subscriber.expectLine("MSG t.\(index) end")
                #expect(try subscriber.request("PING after") == "PONG after")
            }
            #expect(broker.server.coalescedTurns > before)
        }
    }

    @Test func publishesOneAtATimeAreNeverCoalesced() throws {
        raiseOpenFileLimit()
        try withBroker({ $0.threads = 1 }) { broker in
            let subscribers = try (0..<40).map { _ in try broker.connect() }
            for subscriber in subscribers { #expect(try subscriber.request("SUB one") == "OK") }
            let publisher = try broker.connect()
            let before = broker.server.coalescedTurns
            for round in 0..<20 {
                #expect(try publisher.request("PUB one r\(round)") == "OK 40")
                for subscriber in subscribers { try subscriber.expectLine("MSG one r\(round)") }
            }
            #expect(broker.server.coalescedTurns == before)
        }
    }
}
