// Deliveries between event loops: a publisher on one loop, subscribers on others, no wake-up lost.
import Broker
import Foundation
import Synchronization
import Testing

@Suite struct CrossLoopDeliveryTests {
    /// Subscribers that keep up drain their rings while the publisher's loop sends: a
    /// message that lands between a subscriber's last read and its wake-up being armed
    /// must still be delivered (received + LAGGED = published, in order, the last included).
    @Test func subscribersThatKeepUpOnAnotherLoopGetEveryMessage() throws {
        try withBroker({ $0.threads = 2; $0.capacity = 1024 }) { broker in
            let subscribers = try (0..<16).map { _ in try broker.connect() }
            for subscriber in subscribers { #expect(try subscriber.request("SUB race") == "OK") }
            let publisher = try broker.connect()
            let failures = try readNumberedMessages(on: subscribers, topic: "race", total: 50_000, lagAllowed: true) {
                try publishNumbered(publisher, topic: "race", total: 50_000, bursts: [1, 3, 17, 200], receivers: 16)
            }
            #expect(failures.isEmpty, "\(failures)")
        }
    }
}
