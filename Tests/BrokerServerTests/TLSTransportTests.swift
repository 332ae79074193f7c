// The line protocol over TLS (tls_port) against the in-process broker: round trips, refusals, timeouts, reload, many connections.
import Broker
import Foundation
import Glibc
import TLS
import Testing

@Suite(.serialized) struct TLSTransportTests {
    private func tlsBroker(certificate: String = "server", clientCA: String? = nil,
                           _ more: (inout BrokerConfig) -> Void = { _ in }) throws -> InProcessBroker {
        let port = try freeLoopbackPort()
        return try InProcessBroker { config in
            TLSFixture.configure(&config, tlsPort: port, certificate: certificate, clientCA: clientCA)
            more(&config)
        }
    }

    @Test func messagesCrossBetweenTLSAndPlaintextClientsBothWays() throws {
        guard TLSFixture.available() else { return }
        let broker = try tlsBroker()
        defer { broker.stop() }
        let context = try TLSFixture.client()
        let secure = try broker.connectTLS(context)
        let plain = try broker.connect()
        try secure.send("SUB news")
        try secure.expectLine("OK")
        try plain.send("SUB news")
        try plain.expectLine("OK")
        try plain.send("PUB news from the plaintext side")
        try plain.expectLine("OK 2")
        try secure.expectLine("MSG news from the plaintext side")
        try plain.expectLine("MSG news from the plaintext side")
        try secure.send("PUB news from the TLS side")
        try secure.expectLine("OK 2")
        try secure.expectLine("MSG news from the TLS side")
        try plain.expectLine("MSG news from the TLS side")
        try secure.barrier()
    }

    @Test func largeVersionTwoPayloadsCrossManyRecordsIntact() throws {
        guard TLSFixture.available() else { return }
        let broker = try tlsBroker()
        defer { broker.stop() }
        let context = try TLSFixture.client()
        let subscriber = try broker.connectTLS(context)
        let publisher = try broker.connectTLS(context)
        for client in [subscriber, publisher] {
            try client.send("HELLO 2")
            try client.expectLine("OK 2")
        }
        try subscriber.send("SUB big")
        try subscriber.expectLine(startingWith: "OK ")
        var payload = [UInt8](repeating: 0, count: 300_000)
        for index in payload.indices { payload[index] = UInt8(truncatingIfNeeded: index &* 7 &+ index >> 9) }
        for round in 0..<3 {
            try publisher.sendBytes(Array("BPUB big \(payload.count)\n".utf8) + payload + [0x0A])
            try publisher.expectLine(startingWith: "OK 1 ")
            let header = try subscriber.line()
            #expect(header == "MSG big \(round + 1) \(payload.count)", "round \(round)")
            #expect(try subscriber.readBytes(payload.count + 1) == payload + [0x0A], "round \(round)")
        }
    }

    @Test func sixteenTLSSubscribersGetEveryMessageInOrder() throws {
        guard TLSFixture.available() else { return }
        let broker = try tlsBroker()
        defer { broker.stop() }
        let context = try TLSFixture.client()
        let subscribers = try (0..<16).map { _ in try broker.connectTLS(context) }
        for subscriber in subscribers {
            try subscriber.send("SUB fan")
            try subscriber.expectLine("OK")
        }
        let publisher = try broker.connectTLS(context)
        let count = 3000
        var batch = ""
        for index in 0..<count { batch += "PUB fan message-\(index)-\(String(repeating: "x", count: index % 200))\n" }
        try publisher.sendRaw(batch)
        for _ in 0..<count { try publisher.expectLine("OK 16") }
        for subscriber in subscribers {
            for index in 0..<count {
                let line = try subscriber.line()
                guard line == "MSG fan message-\(index)-\(String(repeating: "x", count: index % 200))" else {
                    Issue.record("message \(index): \(line)")
                    return
                }
            }
        }
    }

    @Test func plaintextSentToTheTLSPortIsClosedWithoutAnAnswerAndHarmsNobody() throws {
        guard TLSFixture.available() else { return }
        let broker = try tlsBroker()
        defer { broker.stop() }
        let secure = try broker.connectTLS(try TLSFixture.client())
        let confused = try TestClient(port: broker.tlsPort)
        try confused.send("PUB news hello")
        try confused.expectEOF()
        try secure.barrier()
    }

    @Test func aClientThatStopsMidHandshakeIsFreedByTheTimeout() throws {
        guard TLSFixture.available() else { return }
        let broker = try tlsBroker { $0.tlsHandshakeTimeoutMs = 200 }
        defer { broker.stop() }
        let silent = try TestClient(port: broker.tlsPort)
        let halfway = try TestClient(port: broker.tlsPort)
        // A TLS record header announcing a ClientHello that never comes.
        try halfway.sendBytes([0x16, 0x03, 0x01, 0x00, 0xF0, 0x01, 0x00])
        try silent.expectEOF()
        try halfway.expectEOF()
        #expect(broker.server.connectionCount == 0)
        // The listener still serves.
        try broker.connectTLS(try TLSFixture.client()).barrier()
    }

    @Test func aClientTrustingAnotherCARefusesTheBroker() throws {
        guard TLSFixture.available() else { return }
        let broker = try tlsBroker()
        defer { broker.stop() }
        let client = try TestClient(port: broker.tlsPort)
        #expect(throws: TLSError.self) { try client.startTLS(try TLSFixture.client(ca: "other-ca.pem")) }
        let expired = try tlsBroker(certificate: "expired")
        defer { expired.stop() }
        let late = try TestClient(port: expired.tlsPort)
        do {
            try late.startTLS(try TLSFixture.client())
            Issue.record("an expired certificate was accepted")
        } catch let error as TLSError {
            #expect(error.reason.contains("expired"), "\(error)")
        }
    }

    @Test func requiredClientCertificatesAreCheckedAndTheRightOneGetsIn() throws {
        guard TLSFixture.available() else { return }
        let broker = try tlsBroker(clientCA: "ca.pem")
        defer { broker.stop() }
        // No certificate, or one from an untrusted CA: the broker ends the handshake (TLS 1.3
        // clients learn it at their first read).
        for certificate in [nil, "untrusted-client"] as [String?] {
            let client = try TestClient(port: broker.tlsPort)
            do {
                try client.startTLS(try TLSFixture.client(certificate: certificate))
                try client.send("PING")
                #expect(try client.readLine() == nil, "\(String(describing: certificate))")
            } catch is TLSError {
                // refused during the handshake: also right
            } catch {
                // The broker refused as the PING was written: its alert, or its close of the socket.
                let reason = client.tlsFailure?.reason ?? ""
                #expect(reason.contains("alert") || reason.contains("reset"), "\(error) \(reason)")
            }
        }
        let alice = try broker.connectTLS(try TLSFixture.client(certificate: "client"))
        try alice.barrier()
    }

    @Test func aReloadedCertificateServesNewConnectionsWhileOpenOnesKeepFlowing() throws {
        guard TLSFixture.available() else { return }
        let port = try freeLoopbackPort()
        var config = BrokerConfig()
        let broker = try InProcessBroker { made in
            TLSFixture.configure(&made, tlsPort: port)
            config = made
        }
        defer { broker.stop() }
        let trustsFirst = try TLSFixture.client()
        let trustsSecond = try TLSFixture.client(ca: "other-ca.pem")
        let subscriber = try broker.connectTLS(trustsFirst)
        try subscriber.send("SUB flow")
        try subscriber.expectLine("OK")
        let publisher = try broker.connectTLS(trustsFirst)
        var sent = 0
        func publish(_ count: Int) throws {
            var batch = ""
            for _ in 0..<count {
                batch += "PUB flow \(sent)\n"
                sent += 1
            }
            try publisher.sendRaw(batch)
            for _ in 0..<count { try publisher.expectLine(startingWith: "OK ") }
        }
        try publish(500)
        TLSFixture.configure(&config, tlsPort: port, certificate: "server-other")
        try broker.server.apply(config)
        try publish(500)
        // New connections get the new certificate: one trusting only the old CA is refused.
        #expect(throws: TLSError.self) { try broker.connectTLS(trustsFirst) }
        let late = try broker.connectTLS(trustsSecond)
        try late.send("SUB flow")
        try late.expectLine("OK")
        try publish(500)
        for index in 0..<sent { try subscriber.expectLine("MSG flow \(index)") }
        for index in 1000..<sent { try late.expectLine("MSG flow \(index)") }
        // A reload that cannot read the certificate changes nothing.
        var broken = config
        broken.tlsCertFile = TLSFixture.path("missing.pem")
        #expect(throws: ConfigError.self) { try broker.server.apply(broken) }
        try broker.connectTLS(trustsSecond).barrier()
    }

    @Test func aThousandTLSConnectionsEachGetTheirMessage() throws {
        guard TLSFixture.available() else { return }
        raiseOpenFileLimit()
        let broker = try tlsBroker()
        defer { broker.stop() }
        let context = try TLSFixture.client()
        var clients: [TestClient] = []
        for index in 0..<1000 {
            let client = try broker.connectTLS(context)
            try client.send("SUB all")
            try client.send("SUB own.\(index)")
            clients.append(client)
        }
        for client in clients {
            try client.expectLine("OK")
            try client.expectLine("OK")
        }
        let publisher = try broker.connect()
        var batch = "PUB all everyone\n"
        for index in 0..<1000 { batch += "PUB own.\(index) only-\(index)\n" }
        try publisher.sendRaw(batch)
        try publisher.expectLine("OK 1000")
        for _ in 0..<1000 { try publisher.expectLine("OK 1") }
        for (index, client) in clients.enumerated() {
            try client.expectLine("MSG all everyone")
            try client.expectLine("MSG own.\(index) only-\(index)")
        }
        #expect(broker.server.connectionCount == 1001)
    }
}
