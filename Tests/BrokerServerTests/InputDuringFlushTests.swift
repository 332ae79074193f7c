// A loop flushing many subscribers reads new input between flushes (EventLoop.pollInput):
// messages that arrive mid-phase reach each subscriber once, in order, none lost.
import Foundation
import Synchronization
import Testing
@testable import Broker

@Suite struct InputDuringFlushTests {
    @Test func manySubscribersOnOneLoopGetEveryMessageOnceAndInOrder() throws {
        raiseOpenFileLimit()
        try withBroker({ $0.threads = 1; $0.capacity = 65_536 }) { broker in
            let subscriberCount = 3 * EventLoop.flushesPerInputPoll + 1
            let subscribers = try (0..<subscriberCount).map { _ in try broker.connect() }
            for subscriber in subscribers { #expect(try subscriber.request("SUB fan") == "OK") }
            let publisher = try broker.connect()
            let total = 20_000
            let failures = Mutex<[String]>([])
            let done = DispatchGroup()
            for (index, client) in subscribers.enumerated() {
                done.enter()
                let subscriber = ThreadOwned(client)
                Thread {
                    defer { done.leave() }
                    do {
                        for next in 0..<total {
                            let line = try subscriber.value.line()
                            if line != "MSG fan \(next)" {
                                failures.withLock { $0.append("subscriber \(index): '\(line)' where \(next) was due") }
                                return
                            }
                        }
                    } catch {
                        failures.withLock { $0.append("subscriber \(index): \(error)") }
                    }
                }.start()
            }
            var sent = 0
            while sent < total {  // bursts of varied size while the loop is busy flushing
                let burst = min(total - sent, [1, 7, 50, 300][sent % 4])
                var lines = ""
                for sequence in sent..<(sent + burst) { lines += "PUB fan \(sequence)\n" }
                try publisher.sendRaw(lines)
                for _ in 0..<burst { #expect(try publisher.line() == "OK \(subscriberCount)") }
                sent += burst
            }
            done.wait()
            #expect(failures.withLock { $0 } == [])
            // Every publish woke more subscribers than one poll interval: the loop polled mid-phase.
            #expect(broker.server.inputPollsDuringFlush > 0)
            // Nothing extra arrives after the last message.
            for subscriber in subscribers {
                #expect(try subscriber.request("PING end") == "PONG end")
            }
        }
    }

    @Test func inputIsPolledOnlyWhileWritesStaySmall() {
        let flushes = EventLoop.flushesPerInputPoll
        // Subscribers keeping up: a few messages per write.
        #expect(EventLoop.subscribersKeepUp(delivered: 0, flushes: flushes, capacity: 1024))
        #expect(EventLoop.subscribersKeepUp(delivered: UInt64(16 * flushes), flushes: flushes, capacity: 1024))
        // Behind: large writes (a pipelining publisher would outrun them).
        #expect(!EventLoop.subscribersKeepUp(delivered: UInt64(16 * flushes + 1), flushes: flushes, capacity: 1024))
        #expect(!EventLoop.subscribersKeepUp(delivered: UInt64(256 * flushes), flushes: flushes, capacity: 1024))
        // A small ring lowers the bar to an eighth of it, never below one message.
        #expect(EventLoop.subscribersKeepUp(delivered: UInt64(2 * flushes), flushes: flushes, capacity: 16))
        #expect(!EventLoop.subscribersKeepUp(delivered: UInt64(2 * flushes + 1), flushes: flushes, capacity: 16))
        #expect(EventLoop.subscribersKeepUp(delivered: UInt64(flushes), flushes: flushes, capacity: 2))
        #expect(!EventLoop.subscribersKeepUp(delivered: UInt64(flushes + 1), flushes: flushes, capacity: 2))
    }
}
