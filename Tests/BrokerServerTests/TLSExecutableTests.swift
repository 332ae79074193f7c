// broker-server with TLS configured: refusals at start (exit 78), plaintext off, and a certificate reloaded by SIGHUP.
import Foundation
import Glibc
import TLS
import Testing

@Suite(.serialized) struct TLSExecutableTests {
    private var certificateArguments: [String] {
        ["--tls-cert-file", TLSFixture.path("server.pem"), "--tls-key-file", TLSFixture.path("server.key")]
    }

    @Test func aMissingOpenSSLIsAClearErrorAtStart() throws {
        let result = try runBrokerServer(["--port", "0", "--tls-port", String(try freeLoopbackPort())] + certificateArguments,
                                         environment: ["BROKER_LIBSSL": "libbroker-no-such-ssl.so.3"])
        #expect(result.status == 78)
        #expect(result.stderr.last?.hasPrefix("broker-server: tls_cert_file: ") == true, "\(result.stderr)")
        #expect(result.stderr.last?.contains("TLS is configured but cannot load OpenSSL 3 (libbroker-no-such-ssl.so.3)") == true,
                "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        // Without TLS configured the library is never looked for.
        let plain = try BrokerProcess.start(["--port", "0"])
        plain.signal(SIGTERM)
        #expect(try plain.waitForExit() == 0)
    }

    @Test func listenersWithoutWhatTheyNeedStopTheStart() throws {
        let noCertificate = try runBrokerServer(["--port", "0", "--tls-port", "7443"])
        #expect(noCertificate.status == 78)
        #expect(noCertificate.stderr.last?.contains("tls_port 7443 needs tls_cert_file and tls_key_file") == true, "\(noCertificate.stderr)")
        let nothingLeft = try runBrokerServer(["--port", "0", "--plaintext", "off"])
        #expect(nothingLeft.status == 78)
        #expect(nothingLeft.stderr.last?.contains("plaintext off leaves no listener") == true, "\(nothingLeft.stderr)")
        let missingFile = try runBrokerServer(["--port", "0", "--tls-port", "7443", "--tls-cert-file", "/nonexistent/cert.pem",
                                               "--tls-key-file", TLSFixture.path("server.key")])
        #expect(missingFile.status == 78)
        #expect(missingFile.stderr.last?.contains("/nonexistent/cert.pem") == true, "\(missingFile.stderr)")
        let keyOnly = try runBrokerServer(["--port", "0", "--tls-key-file", TLSFixture.path("server.key")])
        #expect(keyOnly.status == 78)
        #expect(keyOnly.stderr.last?.contains("tls_key_file is set without tls_cert_file") == true, "\(keyOnly.stderr)")
    }

    @Test func plaintextOffLeavesOnlyTheTLSListener() throws {
        guard TLSFixture.available() else { return }
        let tlsPort = try freeLoopbackPort()
        let plainPort = try freeLoopbackPort()
        let broker = try BrokerProcess(arguments: ["--port", String(plainPort), "--tls-port", String(tlsPort), "--plaintext", "off"]
                                       + certificateArguments)
        defer { broker.kill() }
        try broker.stdout.waitForLine(containing: "tls listening on 127.0.0.1:\(tlsPort)")
        #expect(!broker.stdout.lines.contains { $0.hasPrefix("listening on") })
        #expect(throws: ClientError.self) { _ = try TestClient(port: plainPort) }
        let client = try TestClient(port: tlsPort)
        try client.startTLS(try TLSContext.client(caFile: TLSFixture.path("ca.pem"), certificateFile: nil, keyFile: nil))
        try client.barrier()
    }

    @Test func sighupReloadsTheCertificateWithoutDroppingConnections() throws {
        guard TLSFixture.available() else { return }
        let tlsPort = try freeLoopbackPort()
        let file = try ConfigFile(["port 0", "tls_port \(tlsPort)", "tls_cert_file \(TLSFixture.path("server.pem"))",
                                   "tls_key_file \(TLSFixture.path("server.key"))"])
        let broker = try BrokerProcess.start(["--config", file.path])
        defer { broker.kill() }
        try broker.stdout.waitForLine(containing: "tls listening on ")
        let firstCA = try TLSContext.client(caFile: TLSFixture.path("ca.pem"), certificateFile: nil, keyFile: nil)
        let secondCA = try TLSContext.client(caFile: TLSFixture.path("other-ca.pem"), certificateFile: nil, keyFile: nil)
        let subscriber = try TestClient(port: tlsPort)
        try subscriber.startTLS(firstCA)
        #expect(try subscriber.request("SUB reload") == "OK")
        let publisher = try broker.connect()
        #expect(try publisher.request("PUB reload before") == "OK 1")
        try file.write(["port 0", "tls_port \(tlsPort)", "tls_cert_file \(TLSFixture.path("server-other.pem"))",
                        "tls_key_file \(TLSFixture.path("server-other.key"))"])
        let line = try broker.reload()
        #expect(line.contains("configuration reloaded"), "\(line)")
        #expect(broker.stderr.lines.contains { $0.contains("TLS: certificate \(TLSFixture.path("server-other.pem")) and its key read again") })
        #expect(try publisher.request("PUB reload after") == "OK 1")
        try subscriber.expectLine("MSG reload before")
        try subscriber.expectLine("MSG reload after")
        try subscriber.barrier()
        let old = try TestClient(port: tlsPort)
        #expect(throws: TLSError.self) { try old.startTLS(firstCA) }
        let new = try TestClient(port: tlsPort)
        try new.startTLS(secondCA)
        try new.barrier()
        // A reload whose key does not match its certificate is rejected; the running pair stays.
        try file.write(["port 0", "tls_port \(tlsPort)", "tls_cert_file \(TLSFixture.path("server.pem"))",
                        "tls_key_file \(TLSFixture.path("server-other.key"))"])
        let rejected = try broker.reload()
        #expect(rejected.contains("reload rejected"), "\(rejected)")
        let again = try TestClient(port: tlsPort)
        try again.startTLS(secondCA)
        try again.barrier()
    }
}
