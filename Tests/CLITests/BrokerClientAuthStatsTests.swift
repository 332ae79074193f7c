// BrokerClient's AUTH and STATS against a scripted peer: what is sent first, and how replies map to results and errors.
import BrokerClient
import Protocol
import Testing

@Suite struct BrokerClientAuthAndStats {
    private func endpoint(_ broker: ScriptedBroker) -> Endpoint { Endpoint(host: "127.0.0.1", port: broker.port) }

    @Test func aTokenIsSentWithAUTHBeforeAnythingElse() throws {
        let broker = try ScriptedBroker { line in Array((line.hasPrefix("PUB") ? "OK 0\n" : "OK\n").utf8) }
        let connection = try BrokerConnection(to: endpoint(broker), timeout: .seconds(5), token: "s3cret")
        try connection.publish(topic: "t", "x")
        #expect(broker.received == ["AUTH s3cret", "PUB t x"])
    }

    @Test func aRefusedTokenIsAuthenticationFailed() throws {
        let broker = try ScriptedBroker { _ in Array("ERR auth-failed wrong token\nBYE auth-failed wrong token\n".utf8) }
        #expect(throws: BrokerClientError.authenticationFailed) {
            try BrokerConnection(to: endpoint(broker), timeout: .seconds(5), token: "nope")
        }
        #expect(broker.received == ["AUTH nope"])
        #expect(BrokerClientError.authenticationFailed.description == "authentication failed")
    }

    @Test func aTokenAUTHCannotCarryIsNotSent() throws {
        let broker = try ScriptedBroker { _ in Array("OK\n".utf8) }
        #expect(throws: BrokerClientError.invalidToken) {
            try BrokerConnection(to: endpoint(broker), timeout: .seconds(5), token: "two words")
        }
    }

    @Test func statsRepliesBecomeOrderedFields() throws {
        let broker = try ScriptedBroker { line in
            Array((line == "STATS" ? "OK uptime_s=1 published_total=25 version=0.1.0\n" : "ERR no-such-topic no topic 'x'\n").utf8)
        }
        let connection = try BrokerConnection(to: endpoint(broker), timeout: .seconds(5))
        let stats = try connection.stats()
        #expect(stats.fields.map(\.key) == ["uptime_s", "published_total", "version"])
        #expect(stats.counter("published_total") == 25)
        #expect(throws: BrokerClientError.refused(ProtocolError(ErrorCode(rawValue: "no-such-topic"), "no topic 'x'"))) {
            try connection.stats(topic: "x")
        }
        #expect(broker.received == ["STATS", "STATS x"])
    }
}
