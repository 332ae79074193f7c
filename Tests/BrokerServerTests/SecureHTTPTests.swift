// The HTTPS listener (https_port): https:// for the endpoints, wss:// for the WebSocket transport, beside TCP and TLS clients.
import Foundation
import Glibc
import TLS
import Testing
@testable import Broker

@Suite(.serialized) struct SecureHTTPTests {
    private func secureBroker(clientCA: String? = nil, _ body: (InProcessBroker, Int) throws -> Void) throws {
        guard TLSFixture.available() else { return }
        let port = try freeLoopbackPort()
        try withBroker({ TLSFixture.configure(&$0, tlsPort: port, clientCA: clientCA) }) { broker in
            let https = try broker.server.startSecureHTTP(port: 0, requestDeadlineMs: 2000)
            try body(broker, https.port)
        }
    }

    private func httpsGet(_ port: Int, _ path: String, context: TLSContext) throws -> HTTPReply {
        let client = try TestClient(port: port)
        try client.startTLS(context)
        try client.sendRaw("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n")
        return try readHTTPReply(client)
    }

    @Test func healthMetricsAndTheAPIAnswerOverHTTPS() throws {
        try secureBroker { _, port in
            let context = try TLSFixture.client()
            let health = try httpsGet(port, "/healthz", context: context)
            #expect(health.status == 200)
            #expect(health.body == ["ok"])
            let metrics = try httpsGet(port, "/metrics", context: context)
            #expect(metrics.status == 200)
            #expect(metrics.body.contains { $0.hasPrefix("broker_connections ") })
            let connections = try httpsGet(port, "/api/v1/connections", context: context)
            #expect(connections.status == 200)
            #expect(try httpsGet(port, "/nowhere", context: context).status == 404)
        }
    }

    @Test func plaintextHTTPToTheHTTPSPortGetsNoAnswer() throws {
        try secureBroker { _, port in
            let reply = try get(port, "/healthz")
            #expect(reply.status == nil)
        }
    }

    @Test func webSocketsOverTLSMeetTCPAndTLSClients() throws {
        try secureBroker { broker, port in
            let context = try TLSFixture.client()
            let browser = try WebSocketTestClient(port: port, tls: context)
            try browser.send("SUB news\n")
            #expect(try browser.message() == "OK\n")
            let plain = try broker.connect()
            #expect(try plain.request("PUB news from tcp") == "OK 1")
            #expect(try browser.message() == "MSG news from tcp\n")
            let secure = try broker.connectTLS(context)
            #expect(try secure.request("SUB news") == "OK")
            try browser.send("PUB news from wss\n")
            #expect(try browser.message() == "OK 2\n")
            #expect(try browser.message() == "MSG news from wss\n")
            try secure.expectLine("MSG news from wss")
            // A large version 2 message crosses many TLS records inside one WebSocket message.
            try browser.send("HELLO 2\n")
            #expect(try browser.message() == "OK 2\n")
            let payload = String(repeating: "0123456789abcdef", count: 3_750)  // 60 KB: within max_line_bytes
            #expect(try secure.request("PUB news \(payload)") == "OK 2")
            try secure.expectLine("MSG news \(payload)")
            let header = try browser.message()
            #expect(header.hasPrefix("MSG news "), "\(header.prefix(40))")
            #expect(header.hasSuffix(payload + "\n"))
            let list = try httpsGet(port, "/api/v1/connections?limit=10", context: context)
            #expect(list.body.joined().contains("\"transport\":\"wss\""))
            #expect(list.body.joined().contains("\"transport\":\"tls\""))
        }
    }

    @Test func aClientThatNeverFinishesItsHandshakeIsCutOff() throws {
        try secureBroker { broker, port in
            let silent = try TestClient(port: port)
            try silent.expectEOF()
            // The listener still serves.
            #expect(try httpsGet(port, "/healthz", context: try TLSFixture.client()).status == 200)
            _ = broker
        }
    }

    @Test func requiredClientCertificatesApplyToHTTPSToo() throws {
        try secureBroker(clientCA: "ca.pem") { _, port in
            let without = try TestClient(port: port)
            do {
                try without.startTLS(try TLSFixture.client())
                try without.sendRaw("GET /healthz HTTP/1.1\r\n\r\n")
                #expect(try readHTTPReply(without).status == nil)
            } catch {
                // refused during the handshake or at the first write: right either way
            }
            #expect(try httpsGet(port, "/healthz", context: try TLSFixture.client(certificate: "client")).status == 200)
        }
    }
}
