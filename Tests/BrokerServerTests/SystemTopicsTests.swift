// The broker's own topics over TCP: $SYS.lagged events, the periodic $SYS.stats line, and who may see them.
import Broker
import Glibc
import Testing

@Suite struct SystemTopicsTests {
    @Test func aForcedLagPublishesOneSysLaggedEventPerLaggedFrameWithTheSameCount() throws {
        try withBroker({ $0.capacity = 1024; $0.statsIntervalMs = 0 }) { broker in
            // $SYS.lagged is created now with a large ring, so the watcher never lags on it;
            // lag.t is created after the reload below, with a ring of 16.
            let keeper = try broker.connect()
            #expect(try keeper.request("SUB $SYS.lagged") == "OK")
            var config = BrokerConfig()
            config.statsIntervalMs = 0
            config.capacity = 16
            try broker.server.apply(config)
            try keeper.barrier()
            let watcher = try broker.connect()
            let everything = try broker.connect()
            let slow = try broker.connect(receiveBuffer: 4096)
            let publisher = try broker.connect()
            #expect(try watcher.request("SUB $SYS.>") == "OK")
            #expect(try everything.request("SUB >") == "OK")
            #expect(try slow.request("SUB lag.t") == "OK")
            #expect(try publisher.request("PUB $SYS.x y").hasPrefix("ERR reserved-topic "))

            try publish(publisher, topic: "lag.t", count: 2000, payload: String(repeating: "s", count: 4000))
            #expect(try publisher.request("PUB lag.t END").hasPrefix("OK "))
            let slowSaw = try readUntilEnd(slow, ends: ["lag.t"])
            try slow.barrier()
            #expect(slowSaw.laggedFrames.count > 0, "the slow subscriber never lagged")

            // The watcher gets one event per LAGGED frame of the slow client, in order, with its address.
            let address = "127.0.0.1:\(slow.localPort)"
            var events: [Int] = []
            var clientIDs: Set<String> = []
            while events.count < slowSaw.laggedFrames.count {
                let line = try watcher.line()
                guard line.hasPrefix("MSG $SYS.lagged ") else { Issue.record("watcher got '\(line)'"); return }
                let fields = keyValues(line)
                #expect(Set(fields.keys) == ["topic", "client", "addr", "missed"])
                guard fields["addr"] == address else { continue }  // `everything` may lag too
                #expect(fields["topic"] == "lag.t")
                #expect(UInt64(fields["client"] ?? "") != nil)
                clientIDs.insert(fields["client"] ?? "")
                events.append(Int(fields["missed"] ?? "") ?? -1)
            }
            #expect(events == slowSaw.laggedFrames)
            #expect(clientIDs.count == 1)

            // `SUB >` is not attached to the $SYS topic; `SUB $SYS.>` and `SUB $SYS.lagged` are.
            let figures = keyValues(try publisher.request("STATS $SYS.lagged"))
            #expect(figures["subscribers"] == "2")
            _ = try readUntilEnd(everything, ends: ["lag.t"])
            #expect(try publisher.request("PUB marker.m done").hasPrefix("OK "))
            while true {
                let line = try everything.line()
                #expect(!line.contains("$SYS"), "SUB > received '\(line)'")
                if line == "MSG marker.m done" { break }
            }
        }
    }

    @Test func sysStatsArrivesEveryIntervalWithTheStatsKeys() throws {
        let interval = 100
        try withBroker({ $0.statsIntervalMs = interval }) { broker in
            let watcher = try broker.connect()
            #expect(try watcher.request("SUB $SYS.stats") == "OK")
            var times: [Int64] = []
            for _ in 0..<4 {
                let line = try watcher.line()
                #expect(line.hasPrefix("MSG $SYS.stats uptime_s="), "got '\(line)'")
                #expect(Set(keyValues(line).keys) == Set(StatsTests.statsKeys))
                var now = timespec()
                clock_gettime(CLOCK_MONOTONIC, &now)
                times.append(Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000)
            }
            // Publications are at least `interval` apart, so four of them span at least three intervals;
            // their arrival can bunch up by scheduling, hence the margin of two intervals.
            #expect(times[3] - times[0] >= Int64(interval))
        }
    }
}
