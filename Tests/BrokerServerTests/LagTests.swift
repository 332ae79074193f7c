// Lag is exact: a stalled subscriber gets every message or a LAGGED count for it, nothing else.
import Broker
import Testing

@Suite struct LagTests {
    @Test func aStalledSubscriberIsToldExactlyWhatItMissedWhileAFastOneMissesNothing() throws {
        // 50 rounds up to a ring of 64. A 200-byte topic makes each MSG ~210 bytes, so
        // 100,000 of them (21 MB) are far more than the stalled socket's buffers hold.
        let topic = "lag." + String(repeating: "t", count: 196)
        let published = 100_000
        let chunk = 32  // below the ring size: the fast subscriber, drained per chunk, never lags
        try withBroker({ $0.capacity = 50 }) { broker in
            let slow = try broker.connect(receiveBuffer: 4096)
            let fast = try broker.connect()
            let publisher = try broker.connect()
            #expect(try slow.request("SUB \(topic)") == "OK")
            #expect(try fast.request("SUB \(topic)") == "OK")

            // The publisher gets every reply while the slow subscriber reads nothing.
            var replies = 0
            var sequence = 0
            while sequence < published {
                let first = sequence
                var lines = ""
                while sequence < min(published, first + chunk) {
                    lines += "PUB \(topic) \(sequence)\n"
                    sequence += 1
                }
                try publisher.sendRaw(lines)
                for _ in first..<sequence {
                    let reply = try publisher.line()
                    if reply != "OK 2" { Issue.record("PUB reply '\(reply)'"); return }
                    replies += 1
                }
                for expected in first..<sequence {
                    let line = try fast.line()
                    if line != "MSG \(topic) \(expected)" { Issue.record("fast subscriber got '\(line)', expected \(expected)"); return }
                }
            }
            #expect(replies == published)

            // Now the slow one reads: MSGs in order, each LAGGED equal to the gap after it.
            var received = 0
            var lagged = 0
            var next = 0  // the sequence number the next MSG must carry
            var pendingLag: Int?
            var sinceLastLag = 0
            while next < published {
                let line = try slow.line()
                if line.hasPrefix("LAGGED ") {
                    #expect(pendingLag == nil, "two LAGGED frames without a MSG between them")
                    #expect(line.hasPrefix("LAGGED \(topic) "))
                    guard let count = Int(line.split(separator: " ").last ?? "") , count > 0 else {
                        Issue.record("bad LAGGED frame '\(line)'"); return
                    }
                    pendingLag = count
                    lagged += count
                    next += count
                    sinceLastLag = 0
                    continue
                }
                guard line.hasPrefix("MSG \(topic) "), let value = Int(line.split(separator: " ").last ?? "") else {
                    Issue.record("unexpected frame '\(line)'"); return
                }
                if value != next {
                    Issue.record("MSG \(value) where \(next) was due (after LAGGED \(String(describing: pendingLag)))"); return
                }
                pendingLag = nil
                next += 1
                received += 1
                sinceLastLag += 1
            }
            #expect(received + lagged == published)
            #expect(lagged > 0, "the subscriber never lagged: the test did not stall it")
            // After the last LAGGED the ring's whole content follows: capacity rounded up to 64.
            #expect(sinceLastLag == 64)
            // Nothing else is owed to it.
            try slow.barrier()
        }
    }
}
