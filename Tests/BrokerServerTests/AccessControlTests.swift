// acl_file against the in-process broker over TCP (and TLS): logins, every kind of refusal, $SYS, reloads that revoke.
import Broker
import Foundation
import Glibc
import Protocol
import TLS
import Testing

@Suite(.serialized) struct AccessControlTests {
    static let users = """
        user alice
        token_sha256 \(SHA256.hex(of: Array("alice-token".utf8)))
        publish_allow orders.>
        publish_deny orders.secret.>
        subscribe_allow orders.> news.*
        subscribe_deny orders.secret.>

        user bob
        token_sha256 \(SHA256.hex(of: Array("bob-token".utf8)))
        subscribe_allow news.>
        publish_deny >

        user monitor
        token_sha256 \(SHA256.hex(of: Array("monitor-token".utf8)))
        certificate on
        subscribe_allow $SYS.>
        """

    /// An acl_file in the temporary directory.
    final class ACLFile {
        let path = NSTemporaryDirectory() + "broker-acl-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        init(_ text: String) throws { try write(text) }
        func write(_ text: String) throws { try text.write(toFile: path, atomically: true, encoding: .utf8) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    private func login(_ broker: InProcessBroker, _ user: String, _ token: String) throws -> TestClient {
        let client = try broker.connect()
        try client.send("AUTH \(user) \(token)")
        try client.expectLine("OK")
        return client
    }

    @Test func everyConnectionMustLogInAndAWrongTokenEndsIt() throws {
        let file = try ACLFile(Self.users)
        try withBroker({ $0.aclFile = file.path }) { broker in
            let anonymous = try broker.connect()
            #expect(try anonymous.request("SUB news.x").hasPrefix("ERR auth-required"))
            #expect(try anonymous.request("PUB news.x hi").hasPrefix("ERR auth-required"))
            try anonymous.send("AUTH alice wrong-token")
            try anonymous.expectLine(startingWith: "ERR auth-failed")
            try anonymous.expectLine(startingWith: "BYE auth-failed")
            try anonymous.expectEOF()
            let stranger = try broker.connect()
            try stranger.send("AUTH carol alice-token")
            try stranger.expectLine(startingWith: "ERR auth-failed")
            // Without auth_token, AUTH <token> alone logs nobody in.
            let tokenOnly = try broker.connect()
            try tokenOnly.send("AUTH alice-token")
            try tokenOnly.expectLine(startingWith: "ERR auth-failed")
            _ = try login(broker, "alice", "alice-token")
        }
    }

    @Test func publishesOutsideTheGrantAreRefusedAndNothingIsPublished() throws {
        let file = try ACLFile(Self.users)
        try withBroker({ $0.aclFile = file.path; $0.authToken = "admin-token" }) { broker in
            let admin = try broker.connect()
            try admin.send("AUTH admin-token")
            try admin.expectLine("OK")
            try admin.send("SUB >")
            try admin.expectLine("OK")
            let alice = try login(broker, "alice", "alice-token")
            #expect(try alice.request("PUB orders.eu first") == "OK 1")
            #expect(try alice.request("PUB news.today no").hasPrefix("ERR permission-denied user alice may not publish to news.today"))
            #expect(try alice.request("PUB orders.secret.plan no").hasPrefix("ERR permission-denied"))
            // The protocol's own refusals come first.
            #expect(try alice.request("PUB $SYS.x no").hasPrefix("ERR reserved-topic"))
            #expect(try alice.request("PUB a..b no").hasPrefix("ERR bad-topic"))
            // A refused BPUB has its payload taken off the wire: the stream stays framed.
            try alice.sendBytes(Array("BPUB news.today 5\nhello\n".utf8))
            try alice.expectLine(startingWith: "ERR permission-denied")
            try alice.sendBytes(Array("BPUB orders.eu 6\nsecond\n".utf8))
            try alice.expectLine("OK 1")
            let bob = try login(broker, "bob", "bob-token")
            #expect(try bob.request("PUB news.x no").hasPrefix("ERR permission-denied user bob"))
            try alice.barrier()
            // The admin (auth_token: no limits) saw exactly the two allowed messages.
            try admin.expectLine("MSG orders.eu first")
            try admin.expectLine("MSG orders.eu second")
            try admin.barrier()
        }
    }

    @Test func subscriptionsMustStayInsideTheGrant() throws {
        let file = try ACLFile(Self.users)
        try withBroker({ $0.aclFile = file.path }) { broker in
            let alice = try login(broker, "alice", "alice-token")
            #expect(try alice.request("SUB orders.eu.*") == "OK")
            #expect(try alice.request("SUB news.today") == "OK")
            #expect(try alice.request("SUB news.*") == "OK")
            for refused in ["orders.>", "orders.*.plan", "orders.secret.plan", "news.>", ">", "sport", "$SYS.>", "$SYS.lagged"] {
                #expect(try alice.request("SUB \(refused)").hasPrefix("ERR permission-denied"), "\(refused)")
            }
            #expect(try alice.request("STATS orders.eu.x").hasPrefix("ERR no-such-topic"))
            #expect(try alice.request("STATS sport").hasPrefix("ERR permission-denied"))
            #expect(try alice.request("STATS").hasPrefix("OK "))
            let monitor = try login(broker, "monitor", "monitor-token")
            #expect(try monitor.request("SUB $SYS.>") == "OK")
            #expect(try monitor.request("SUB orders.eu").hasPrefix("ERR permission-denied"))
            // Queue groups are checked the same way (version 2).
            #expect(try alice.request("HELLO 2") == "OK 2")
            #expect(try alice.request("SUB orders.eu.x group=workers").hasPrefix("OK "))
            #expect(try alice.request("SUB orders.> group=workers").hasPrefix("ERR permission-denied"))
        }
    }

    @Test func aReloadRevokesSubscriptionsNoLongerAllowedAndLogsOutRemovedUsers() throws {
        let file = try ACLFile(Self.users)
        var config = BrokerConfig()
        let broker = try InProcessBroker { made in
            made.aclFile = file.path
            made.authToken = "admin-token"
            config = made
        }
        defer { broker.stop() }
        let bob = try login(broker, "bob", "bob-token")
        #expect(try bob.request("SUB news.>") == "OK")
        #expect(try bob.request("SUB news.public.*") == "OK")
        let monitor = try login(broker, "monitor", "monitor-token")
        let admin = try broker.connect()
        try admin.send("AUTH admin-token")
        try admin.expectLine("OK")
        #expect(try admin.request("PUB news.other before") == "OK 1")
        try bob.expectLine("MSG news.other before")
        // bob may now only read news.public.>; monitor is renamed (so gone).
        try file.write(Self.users.replacingOccurrences(of: "subscribe_allow news.>", with: "subscribe_allow news.public.>")
            .replacingOccurrences(of: "user monitor", with: "user renamed"))
        try broker.server.apply(config)
        try bob.expectLine("REVOKED news.> permission-denied user bob may no longer subscribe to it")
        try monitor.expectLine(startingWith: "BYE auth-failed user monitor is no longer in acl_file")
        try monitor.expectEOF()
        // Nothing comes for the revoked subscription; what bob still holds delivers.
        #expect(try admin.request("PUB news.other after") == "OK 0")
        #expect(try admin.request("PUB news.public.a after") == "OK 1")
        try bob.expectLine("MSG news.public.a after")
        try bob.barrier()
        #expect(try bob.request("SUB news.>").hasPrefix("ERR permission-denied"))
        #expect(try bob.request("SUB news.public.>") == "OK")
        // The admin logged in with auth_token: no user, no limits, untouched by the reload.
        #expect(try admin.request("SUB anything.>") == "OK")
        // A reload that cannot read the file changes nothing.
        try file.write("user broken\npublish_allow a..b\n")
        #expect(throws: ConfigError.self) { try broker.server.apply(config) }
        #expect(try bob.request("SUB news.public.b") == "OK")
        let renamed = try broker.connect()
        try renamed.send("AUTH renamed monitor-token")
        try renamed.expectLine("OK")
    }

    @Test func aClientCertificateNamingAUserLogsItIn() throws {
        guard TLSFixture.available() else { return }
        // The fixture client certificates name alice and bob.
        let file = try ACLFile("""
            user alice
            certificate on
            subscribe_allow cert.>

            user bob
            token_sha256 \(SHA256.hex(of: Array("bob-token".utf8)))
            subscribe_allow news.>
            """)
        let port = try freeLoopbackPort()
        try withBroker({ config in
            TLSFixture.configure(&config, tlsPort: port, clientCA: "ca.pem")
            config.aclFile = file.path
        }) { broker in
            // The fixture client certificate's common name is alice, who has `certificate on`.
            let alice = try broker.connectTLS(try TLSFixture.client(certificate: "client"))
            #expect(try alice.request("SUB cert.x") == "OK")
            #expect(try alice.request("SUB other").hasPrefix("ERR permission-denied user alice"))
            // bob's certificate names bob, who logs in only with a token.
            let bob = try broker.connectTLS(try TLSFixture.client(certificate: "client-bob"))
            #expect(try bob.request("SUB news.x").hasPrefix("ERR auth-required"))
            try bob.send("AUTH bob bob-token")
            try bob.expectLine("OK")
            #expect(try bob.request("SUB news.x") == "OK")
        }
    }
}
