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
            let total = 50_000
            let failures = Mutex<[String]>([])
            let done = DispatchGroup()
            for (index, client) in subscribers.enumerated() {
                done.enter()
                let subscriber = ThreadOwned(client)
                Thread {
                    defer { done.leave() }
                    var next = 0
                    do {
                        while next < total {  // a lost wake-up ends in the read guard's timeout
                            let line = try subscriber.value.line()
                            if line.hasPrefix("LAGGED race ") {
                                next += Int(line.split(separator: " ")[2]) ?? 0
                            } else if line == "MSG race \(next)" {
                                next += 1
                            } else {
                                failures.withLock { $0.append("subscriber \(index): '\(line)' where \(next) was due") }
                                return
                            }
                        }
                    } catch {
                        failures.withLock { $0.append("subscriber \(index) stalled at \(next) of \(total): \(error)") }
                    }
                }.start()
            }
            var sent = 0
            while sent < total {  // bursts of varied size, replies read as they come
                let burst = min(total - sent, [1, 3, 17, 200][sent % 4])
                var lines = ""
                for sequence in sent..<(sent + burst) { lines += "PUB race \(sequence)\n" }
                try publisher.sendRaw(lines)
                for _ in 0..<burst { #expect(try publisher.line() == "OK 16") }
                sent += burst
            }
            done.wait()
            #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        }
    }
}

/// Hands a value to the one thread that uses it from then on.
final class ThreadOwned<Value>: @unchecked Sendable {
    // @unchecked Sendable: created before the thread starts and used only by that thread.
    let value: Value
    init(_ value: Value) { self.value = value }
}
