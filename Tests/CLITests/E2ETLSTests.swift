// broker-cli and BrokerClient over TLS (tls://, wss://), client certificates and acl_file users, against the real daemon; openssl s_client as an outside client.
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The certificates of Tests/Fixtures/tls (scripts/dev-certs.sh).
private func fixture(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tls/\(name)").path
}

/// The daemon with a TLS listener and an HTTPS listener; their `tls://` and `wss://` addresses.
private func tlsServer(certificate: String = "server", _ extra: [String] = []) throws -> (Server, tls: String, wss: String) {
    let tlsPort = try freeLoopbackPort()
    let httpsPort = try freeLoopbackPort()
    let server = try Server(port: 0, ["--tls-port", String(tlsPort), "--https-port", String(httpsPort),
                                      "--tls-cert-file", fixture("\(certificate).pem"), "--tls-key-file", fixture("\(certificate).key")] + extra)
    guard server.child.stdout.waitForLine(containing: "https listening on ") != nil else {
        throw E2EFailure("no 'https listening on' line; stderr: \(server.child.stderr.lines.suffix(5))")
    }
    return (server, "tls://127.0.0.1:\(tlsPort)", "wss://localhost:\(httpsPort)/ws")
}

@Suite(.serialized, .enabled(if: Binaries.daemonTestsEnabled, "needs broker-server; set CI=true to make its absence fail"))
struct CLIOverTLS {
    @Test func subAndPubOverTLSAndWSSMeetTCPClients() throws {
        let (server, tls, wss) = try tlsServer()
        let ca = ["--ca", fixture("ca.pem")]
        let viaTLS = try Child.cli(["sub", "-v", "s.t", "--count", "3", "--server", tls] + ca)
        #expect(viaTLS.stderr.waitForLine(containing: "subscribed to s.t on \(tls)") != nil, "\(viaTLS.stderr.lines)")
        let viaWSS = try Child.cli(["sub", "s.t", "--count", "3", "--server", wss] + ca)
        #expect(viaWSS.stderr.waitForLine(containing: "subscribed to s.t on \(wss)") != nil, "\(viaWSS.stderr.lines)")
        let large = String(repeating: "0123456789", count: 5_000)
        #expect(try runCLI(["pub", "s.t", "over tls", "--server", tls] + ca).status == 0)
        #expect(try runCLI(["pub", "s.t", large, "--server", wss] + ca).status == 0)
        #expect(try runCLI(["pub", "s.t", "over tcp"] + server.portArguments).status == 0)
        #expect(viaTLS.waitForExit() == 0)
        #expect(viaWSS.waitForExit() == 0)
        #expect(viaTLS.stdout.waitForEnd() == ["s.t over tls", "s.t \(large)", "s.t over tcp"])
        #expect(viaWSS.stdout.waitForEnd() == ["over tls", large, "over tcp"])
    }

    @Test func benchOverTLSAccountsForEveryMessage() throws {
        let (server, tls, _) = try tlsServer()
        defer { withExtendedLifetime(server) {} }
        let bench = try runCLI(["bench", "--subs", "4", "--msgs", "20000", "--size", "256", "--server", tls, "--ca", fixture("ca.pem")])
        #expect(bench.status == 0, "\(bench.err)")
        #expect(bench.out.contains { $0.hasPrefix("delivered:") && $0.contains("80000 received") }, "\(bench.out)")
    }

    @Test func aBrokerTheClientCannotVerifyIsRefusedWithTheReason() throws {
        let (server, tls, _) = try tlsServer()
        defer { withExtendedLifetime(server) {} }
        let wrongCA = try runCLI(["ping", "--server", tls, "--ca", fixture("other-ca.pem")])
        #expect(wrongCA.status == 1)
        #expect(wrongCA.err.first?.contains("certificate verification failed") == true, "\(wrongCA.err)")
        // The system's CAs do not know the test CA either.
        #expect(try runCLI(["ping", "--server", tls]).status == 1)
        // A name the certificate does not carry.
        let wrongName = try runCLI(["ping", "--server", tls.replacingOccurrences(of: "127.0.0.1", with: "127.0.0.2"), "--ca", fixture("ca.pem")])
        #expect(wrongName.status == 1)
        // --insecure skips the check (tests only).
        #expect(try runCLI(["ping", "--server", tls, "--insecure"]).status == 0)
        // Plaintext to the TLS port is no broker for the client.
        let plaintext = try runCLI(["ping", "--server", String(tls.dropFirst(6)), "--timeout", "2"])
        #expect(plaintext.status == 1)
    }

    @Test func anExpiredCertificateIsRefused() throws {
        let (server, tls, _) = try tlsServer(certificate: "expired")
        defer { withExtendedLifetime(server) {} }
        let ping = try runCLI(["ping", "--server", tls, "--ca", fixture("ca.pem")])
        #expect(ping.status == 1)
        #expect(ping.err.first?.contains("expired") == true, "\(ping.err)")
    }

    @Test func clientCertificatesAndUsersGetTheirGrant() throws {
        let acl = NSTemporaryDirectory() + "cli-acl-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        try """
            user alice
            certificate on
            publish_allow alice.>
            subscribe_allow alice.>

            user bob
            token_sha256 03126eaa2efdb0e3b8bbdcf1f1203a884ac487f08a57bb925dce12770fd226a7
            publish_allow bob.>
            """.write(toFile: acl, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: acl) }
        let (server, tls, _) = try tlsServer(["--tls-client-ca-file", fixture("ca.pem"), "--acl-file", acl])
        defer { withExtendedLifetime(server) {} }
        let alice = ["--server", tls, "--ca", fixture("ca.pem"), "--cert", fixture("client.pem"), "--key", fixture("client.key")]
        #expect(try runCLI(["pub", "alice.x", "hi"] + alice).status == 0)
        let denied = try runCLI(["pub", "bob.x", "hi"] + alice)
        #expect(denied.status == 1)
        #expect(denied.err.first?.contains("permission-denied") == true, "\(denied.err)")
        // Without a client certificate the handshake fails.
        #expect(try runCLI(["ping", "--server", tls, "--ca", fixture("ca.pem")]).status == 1)
        // bob's certificate logs nobody in: bob logs in with his token.
        let bob = ["--server", tls, "--ca", fixture("ca.pem"), "--cert", fixture("client-bob.pem"), "--key", fixture("client-bob.key")]
        let noLogin = try runCLI(["pub", "bob.x", "hi"] + bob)
        #expect(noLogin.err == ["broker-cli: authentication required: give --token or set BROKER_TOKEN"])
        let bobToken = "bob-s3cret"
        #expect(try runCLI(["pub", "bob.x", "hi", "--user", "bob", "--token", bobToken] + bob).status == 0)
        #expect(try runCLI(["pub", "bob.x", "hi", "--token", bobToken] + bob, environment: ["BROKER_USER": "bob"]).status == 0)
        let wrong = try runCLI(["pub", "bob.x", "hi", "--user", "bob", "--token", "nope"] + bob)
        #expect(wrong.err == ["broker-cli: authentication failed"])
    }

    @Test func opensslSClientIsAnOutsideClient() throws {
        guard let openssl = ["/usr/bin/openssl", "/bin/openssl"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("the openssl command is missing (apt-get install openssl)") }
            return
        }
        let (server, tls, _) = try tlsServer()
        let port = String(tls.split(separator: ":").last ?? "")
        let client = try Child(openssl, ["s_client", "-quiet", "-no_ign_eof", "-nocommands", "-connect", "127.0.0.1:\(port)", "-CAfile", fixture("ca.pem"),
                                         "-verify_return_error", "-verify_hostname", "localhost"])
        client.stdin.write(Data("SUB outside\nPING ready\n".utf8))
        #expect(client.stdout.waitForLine(containing: "PONG ready") != nil, "\(client.stdout.lines) \(client.stderr.lines)")
        #expect(try runCLI(["pub", "outside", "from broker-cli"] + server.portArguments).status == 0)
        #expect(client.stdout.waitForLine(containing: "MSG outside from broker-cli") != nil)
        client.stdin.write(Data("QUIT\n".utf8))
        #expect(client.waitForExit() != nil)
        #expect(client.stdout.waitForEnd() == ["OK", "PONG ready", "MSG outside from broker-cli", "OK"])
        // TLS 1.1 is refused (TLS 1.2 at least), even from a client that would accept it.
        let old = try Child(openssl, ["s_client", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-connect", "127.0.0.1:\(port)",
                                      "-CAfile", fixture("ca.pem")])
        try? old.stdin.close()
        #expect(old.waitForExit() != 0)
        let said = (old.stdout.waitForEnd() + old.stderr.waitForEnd()).joined(separator: "\n")
        #expect(said.contains("alert protocol version") || said.contains("no protocols available") || said.contains("unsupported protocol"),
                "\(said)")
    }
}
