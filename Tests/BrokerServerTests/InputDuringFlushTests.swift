// A loop flushing many subscribers reads new input between flushes (DeliveryScheduler.pollInput):
// messages that arrive mid-phase reach each subscriber once, in order, none lost.
import Foundation
import Synchronization
import Testing
@testable import Broker

@Suite struct InputDuringFlushTests {
    @Test func manySubscribersOnOneLoopGetEveryMessageOnceAndInOrder() throws {
        raiseOpenFileLimit()
        try withBroker({ $0.threads = 1; $0.capacity = 65_536 }) { broker in
            let subscriberCount = 3 * DeliveryScheduler.flushesPerInputPoll + 1
            let subscribers = try (0..<subscriberCount).map { _ in try broker.connect() }
            for subscriber in subscribers { #expect(try subscriber.request("SUB fan") == "OK") }
            let publisher = try broker.connect()
            let failures = try readNumberedMessages(on: subscribers, topic: "fan", total: 20_000, lagAllowed: false) {
                // Bursts of varied size while the loop is busy flushing.
                try publishNumbered(publisher, topic: "fan", total: 20_000, bursts: [1, 7, 50, 300], receivers: subscriberCount)
            }
            #expect(failures == [])
            // Every publish woke more subscribers than one poll interval: the loop polled mid-phase.
            #expect(broker.server.inputPollsDuringFlush > 0)
            // Nothing extra arrives after the last message.
            for subscriber in subscribers {
                #expect(try subscriber.request("PING end") == "PONG end")
            }
        }
    }

    @Test func inputIsPolledOnlyWhileWritesStaySmall() {
        let flushes = DeliveryScheduler.flushesPerInputPoll
        // Subscribers keeping up: a few messages per write.
        #expect(DeliveryScheduler.subscribersKeepUp(delivered: 0, flushes: flushes, capacity: 1024))
        #expect(DeliveryScheduler.subscribersKeepUp(delivered: UInt64(16 * flushes), flushes: flushes, capacity: 1024))
        // Behind: large writes (a pipelining publisher would outrun them).
        #expect(!DeliveryScheduler.subscribersKeepUp(delivered: UInt64(16 * flushes + 1), flushes: flushes, capacity: 1024))
        #expect(!DeliveryScheduler.subscribersKeepUp(delivered: UInt64(256 * flushes), flushes: flushes, capacity: 1024))
        // A small ring lowers the bar to an eighth of it, never below one message.
        #expect(DeliveryScheduler.subscribersKeepUp(delivered: UInt64(2 * flushes), flushes: flushes, capacity: 16))
        #expect(!DeliveryScheduler.subscribersKeepUp(delivered: UInt64(2 * flushes + 1), flushes: flushes, capacity: 16))
        #expect(DeliveryScheduler.subscribersKeepUp(delivered: UInt64(flushes), flushes: flushes, capacity: 2))
        #expect(!DeliveryScheduler.subscribersKeepUp(delivered: UInt64(flushes + 1), flushes: flushes, capacity: 2))
    }
}
