// Token authentication (an extension): AUTH before anything else when a token is configured.
import Broker
import Testing

@Suite struct AuthTests {
    @Test func withATokenEveryCommandButAuthAndQuitIsRefusedUntilAuth() throws {
        try withBroker({ $0.authToken = "s3cret" }) { broker in
            let client = try broker.connect()
            #expect(try client.request("PING").hasPrefix("ERR auth-required "))
            #expect(try client.request("SUB t").hasPrefix("ERR auth-required "))
            #expect(try client.request("PUB t x").hasPrefix("ERR auth-required "))
            #expect(try client.request("STATS").hasPrefix("ERR auth-required "))
            #expect(try client.request("AUTH s3cret") == "OK")
            #expect(try client.request("SUB t") == "OK")
            #expect(try client.request("PUB t x") == "OK 1")
            #expect(try client.line() == "MSG t x")
        }
    }

    @Test func aWrongTokenIsRefusedAndTheConnectionClosed() throws {
        try withBroker({ $0.authToken = "s3cret" }) { broker in
            let client = try broker.connect()
            try client.send("AUTH s3cre")
            try client.send("PING")
            try client.expectLine(startingWith: "ERR auth-failed ")
            try client.expectLine(startingWith: "BYE auth-failed ")
            try client.expectEOF()
            let other = try broker.connect()  // others are unaffected
            #expect(try other.request("AUTH s3cret") == "OK")
        }
    }

    @Test func quitWorksWithoutAuth() throws {
        try withBroker({ $0.authToken = "s3cret" }) { broker in
            let client = try broker.connect()
            #expect(try client.request("QUIT") == "OK")
            try client.expectEOF()
        }
    }

    @Test func authWithoutAConfiguredTokenIsOK() throws {
        try withBroker { broker in
            let client = try broker.connect()
            #expect(try client.request("AUTH anything") == "OK")
            #expect(try client.request("PING") == "PONG")
        }
    }

    @Test func tokensAreComparedWholly() {
        func check(_ presented: String, _ expected: String) -> Bool {
            Array(presented.utf8).withUnsafeBytes { AuthToken.matches($0, Array(expected.utf8)) }
        }
        #expect(check("abc", "abc"))
        #expect(!check("abd", "abc"))
        #expect(!check("ab", "abc"))
        #expect(!check("abcd", "abc"))
        #expect(!check("", "abc"))
        #expect(!check(String(repeating: "a", count: 256), ""))
    }

    @Test func aTokenFileIsReadTrimmedAndItsErrorsNeverShowTheToken() throws {
        var config = BrokerConfig()
        config.authTokenFile = "/t"
        #expect(try AuthToken.resolve(config, files: .inMemory(["/t": "  tok-1\n"])) == "tok-1")
        #expect(throws: ConfigError.self) { try AuthToken.resolve(config, files: .inMemory([:])) }
        do {
            _ = try AuthToken.resolve(config, files: .inMemory(["/t": "two words\n"]))
            Issue.record("a token with a space was accepted")
        } catch {
            #expect(!error.description.contains("two words"))
        }
        config.authTokenFile = ""
        #expect(try AuthToken.resolve(config, files: .inMemory([:])) == nil)
        config.authToken = "inline"
        #expect(try AuthToken.resolve(config, files: .inMemory([:])) == "inline")
    }
}
