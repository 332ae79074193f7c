// SIGHUP for the keys version 2 added: max_payload_bytes, linger_ms, max_ring_bytes, max_held_bytes.
import Broker
import Testing

@Suite struct ReloadVersionTwoKeysTests {
    @Test func maxPayloadBytesReloadsLiveForOpenConnections() throws {
        let (broker, file) = try BrokerProcess.start(config: baseConfig + ["max_payload_bytes 8"])
        let client = try broker.connect()
        try client.sendRaw("BPUB t 9\n123456789\n")
        #expect(try client.readLine()?.hasPrefix("ERR payload-too-large ") == true)
        try file.write(baseConfig + ["max_payload_bytes 16"])
        #expect(try broker.reload().contains("configuration reloaded (changed: max_payload_bytes)"))
        try client.sendRaw("BPUB t 9\n123456789\n")
        #expect(try client.readLine() == "OK 0")
    }

    @Test func lingerMsReloadsLive() throws {
        let (broker, file) = try BrokerProcess.start(config: baseConfig + ["linger_ms 0"])
        let client = try broker.connect()
        #expect(try client.request("PUB kept 1") == "OK 0")
        #expect(try client.request("STATS kept").hasPrefix("ERR no-such-topic "))
        try file.write(baseConfig + ["linger_ms 600000"])
        #expect(try broker.reload().contains("configuration reloaded (changed: linger_ms)"))
        #expect(try client.request("PUB kept 1") == "OK 0")
        #expect(try client.request("STATS kept").contains(" head=1 "))
    }

    @Test func ringAndBudgetBytesReloadLive() throws {
        let (broker, file) = try BrokerProcess.start(config: baseConfig)
        try file.write(baseConfig + ["max_ring_bytes 2048", "max_held_bytes 4194304"])
        #expect(try broker.reload().contains("configuration reloaded (changed: max_ring_bytes, max_held_bytes)"))
        let client = try broker.connect()
        // A topic made after the reload holds at most 2048 bytes of messages (each weighs its frame plus 48).
        let payload = String(repeating: "x", count: 200)
        for _ in 0..<40 { #expect(try client.request("PUB small \(payload)") == "OK 0") }
        let stats = try client.request("STATS small")
        let heldBytes = stats.split(separator: " ").first { $0.hasPrefix("held_bytes=") }.flatMap { Int($0.dropFirst(11)) }
        #expect(heldBytes.map { $0 <= 2048 && $0 > 1024 } == true, "\(stats)")
    }
}
