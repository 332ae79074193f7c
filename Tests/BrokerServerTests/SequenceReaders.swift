// Subscribers that read numbered messages on their own threads while a publisher sends them.
import Foundation
import Locks
import Testing

/// Reads `MSG <topic> 0`, `MSG <topic> 1`, … up to `total` on every subscriber, each on its
/// own thread, while `publish` runs on the calling one; waits for every reader. With
/// `lagAllowed`, `LAGGED <topic> <n>` skips `n` numbers. Returns what went wrong (empty
/// when every subscriber saw every number it was owed, in order); a lost wake-up shows
/// as a stall ended by the read guard's timeout.
func readNumberedMessages(
    on subscribers: [TestClient], topic: String, total: Int, lagAllowed: Bool, while publish: () throws -> Void
) rethrows -> [String] {
    let failures = PthreadLock<[String]>([])
    let done = DispatchGroup()
    for (index, client) in subscribers.enumerated() {
        done.enter()
        let subscriber = ThreadOwned(client)
        Thread {
            defer { done.leave() }
            var next = 0
            do {
                while next < total {
                    let line = try subscriber.value.line()
                    if lagAllowed && line.hasPrefix("LAGGED \(topic) ") {
                        next += Int(line.split(separator: " ")[2]) ?? 0
                    } else if line == "MSG \(topic) \(next)" {
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
    try publish()
    done.wait()
    return failures.withLock { $0 }
}

/// Publishes `PUB <topic> 0` … `total - 1` in bursts whose sizes cycle through `bursts`,
/// reading the `OK <receivers>` replies of each burst before the next.
func publishNumbered(_ publisher: TestClient, topic: String, total: Int, bursts: [Int], receivers: Int) throws {
    var sent = 0
    while sent < total {
        let burst = min(total - sent, bursts[sent % bursts.count])
        var lines = ""
        for sequence in sent..<(sent + burst) { lines += "PUB \(topic) \(sequence)\n" }
        try publisher.sendRaw(lines)
        for _ in 0..<burst { #expect(try publisher.line() == "OK \(receivers)") }
        sent += burst
    }
}

/// Hands a value to the one thread that uses it from then on.
final class ThreadOwned<Value>: @unchecked Sendable {
    // @unchecked Sendable: created before the thread starts and used only by that thread.
    let value: Value
    init(_ value: Value) { self.value = value }
}
