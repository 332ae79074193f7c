// acl_file: the parser's format and errors, logins, and the allow/deny rules against a brute-force oracle.
import Protocol
import Testing
@testable import Broker

@Suite struct AccessListTests {
    static let aliceToken = "alice-s3cret"
    static let example = """
        # users of the test broker
        user alice
        token_sha256 \(SHA256.hex(of: Array(aliceToken.utf8)))
        publish_allow orders.>
        publish_deny orders.secret.>
        subscribe_allow orders.> news.*
        subscribe_deny orders.secret.>

        user bob
        token_file tokens/bob
        subscribe_allow news.>
        publish_deny >

        user monitor
        certificate on
        subscribe_allow $SYS.> health.*
        """

    static let files = ConfigFileAccess.inMemory(["/etc/broker/tokens/bob": "bob-token\n", "/etc/broker/acl": example])

    static func parse(_ text: String) throws(ConfigError) -> AccessList {
        try AccessListParser.parse(text, file: "/etc/broker/acl", files: files)
    }

    static func errorLine(_ text: String) -> String? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func theExampleParses() throws {
        let list = try Self.parse(Self.example)
        #expect(list.userNames == ["alice", "bob", "monitor"])
        let alice = try #require(list.user("alice"))
        #expect(alice.publish.allow.map(\.description) == ["orders.>"])
        #expect(alice.subscribe.allow.map(\.description) == ["orders.>", "news.*"])
        #expect(list.user("monitor")?.certificateLogin == true)
        #expect(list.user("alice")?.certificateLogin == false)
    }

    @Test func tokensFromAHashOrAFileLogIn() throws {
        let list = try Self.parse(Self.example)
        func login(_ user: String, _ token: String) -> String? {
            Array(user.utf8).withUnsafeBytes { name in
                Array(token.utf8).withUnsafeBytes { list.authenticate(user: name, token: $0)?.name }
            }
        }
        #expect(login("alice", Self.aliceToken) == "alice")
        #expect(login("alice", "alice-s3cre") == nil)
        #expect(login("alice", "bob-token") == nil)
        #expect(login("bob", "bob-token") == "bob")  // the file's trailing newline is not part of it
        #expect(login("monitor", "anything") == nil)  // certificate only
        #expect(login("carol", "x") == nil)
        #expect(list.certificateUser(commonName: "monitor")?.name == "monitor")
        #expect(list.certificateUser(commonName: "alice") == nil)  // certificate off
    }

    @Test func errorsNameTheFileTheLineAndTheKeyAndNeverAToken() {
        #expect(Self.errorLine("token_sha256 00") == "/etc/broker/acl:1: token_sha256: comes before any `user NAME` line")
        #expect(Self.errorLine("user a\ncertificate on\nuser a\ncertificate on")
            == "/etc/broker/acl:3: user: user a is named twice")
        #expect(Self.errorLine("user a\ncolour blue")?.hasPrefix("/etc/broker/acl:2: colour: unknown key") == true)
        #expect(Self.errorLine("user a\ncertificate on\npublish_allow a..b")
            == "/etc/broker/acl:3: publish_allow: 'a..b' is not a valid topic or pattern")
        #expect(Self.errorLine("user a\ncertificate on\nsubscribe_deny a.>.b")
            == "/etc/broker/acl:3: subscribe_deny: 'a.>.b' is not a valid topic or pattern")
        let secretHex = "zz" + String(repeating: "0", count: 62)
        let badHex = Self.errorLine("user a\ntoken_sha256 \(secretHex)")
        #expect(badHex == "/etc/broker/acl:2: token_sha256: expected 64 hexadecimal digits (the value is not shown)")
        #expect(!(badHex ?? "").contains(secretHex))
        #expect(Self.errorLine("user a\ntoken_sha256 \(String(repeating: "a", count: 64))\ntoken_file x")
            == "/etc/broker/acl:3: token_file: the user already has a token")
        #expect(Self.errorLine("user a\npublish_allow a\n")
            == "/etc/broker/acl:1: user: user a has no token_sha256, token_file or `certificate on`: nobody could log in as it")
        #expect(Self.errorLine("user a\ntoken_file missing")?.hasPrefix("/etc/broker/acl:2: token_file: cannot read /etc/broker/missing") == true)
        #expect(Self.errorLine("user a\ncertificate yes")
            == "/etc/broker/acl:2: certificate: expected on or off, got 'yes'")
        #expect(Self.errorLine("user a b\ncertificate on")
            == "/etc/broker/acl:1: user: expected a user name of printable ASCII without spaces, at most 255 bytes")
        #expect(Self.errorLine("user a\npublish_allow") == "/etc/broker/acl:2: publish_allow: missing value")
        // CRLF endings and blank or comment lines are fine.
        #expect(Self.errorLine("# c\r\n\r\nuser a\r\ncertificate on\r\n") == nil)
    }

    @Test func aTokenFileThatHoldsSpacesIsRefusedWithoutShowingIt() {
        let files = ConfigFileAccess.inMemory(["/acl": "", "/t": "two words\n"])
        do {
            _ = try AccessListParser.parse("user a\ntoken_file /t", file: "/acl", files: files)
            Issue.record("accepted")
        } catch {
            #expect(error.description.contains("(the value is not shown)"))
            #expect(!error.description.contains("two words"))
        }
    }

    @Test func loadReadsTheConfiguredFile() throws {
        var config = BrokerConfig()
        #expect(try AccessListParser.load(config, files: Self.files) == nil)
        config.aclFile = "/etc/broker/acl"
        #expect(try AccessListParser.load(config, files: Self.files)?.userNames == ["alice", "bob", "monitor"])
        config.aclFile = "/nowhere"
        #expect(throws: ConfigError.self) { try AccessListParser.load(config, files: Self.files) }
    }

    // MARK: - Rules

    static func pattern(_ text: String) -> RulePattern {
        RulePattern(Array(text.utf8))!
    }

    static func rule(allow: [String] = [], deny: [String] = []) -> TopicRule {
        TopicRule(allow: allow.map(pattern), deny: deny.map(pattern))
    }

    static func publishes(_ rule: TopicRule, _ topic: String) -> Bool {
        Array(topic.utf8).withUnsafeBytes { rule.permits(topic: $0) }
    }

    @Test func publishFollowsNATSAllowAndDeny() {
        let open = Self.rule()
        #expect(Self.publishes(open, "anything.at.all"))
        let denyOnly = Self.rule(deny: ["secret.>"])
        #expect(Self.publishes(denyOnly, "public.x"))
        #expect(!Self.publishes(denyOnly, "secret.x"))
        #expect(Self.publishes(denyOnly, "secret"))  // `>` needs one more level
        let allowOnly = Self.rule(allow: ["orders.*"])
        #expect(Self.publishes(allowOnly, "orders.eu"))
        #expect(!Self.publishes(allowOnly, "orders.eu.x"))
        #expect(!Self.publishes(allowOnly, "news"))
        let both = Self.rule(allow: ["orders.>"], deny: ["orders.secret.*"])
        #expect(Self.publishes(both, "orders.a.b"))
        #expect(!Self.publishes(both, "orders.secret.x"))  // deny wins
        #expect(Self.publishes(both, "orders.secret.x.y"))
    }

    @Test func subscriptionsMustFitInsideTheGrantAndMissEveryDeniedTopic() {
        let both = Self.rule(allow: ["orders.>", "news.*"], deny: ["orders.secret.>"])
        func subscribes(_ rule: TopicRule, _ text: String) -> Bool { rule.permits(subscription: Self.pattern(text)) }
        #expect(subscribes(both, "orders.eu"))
        #expect(subscribes(both, "orders.eu.*"))
        #expect(subscribes(both, "news.today"))
        #expect(subscribes(both, "news.*"))
        #expect(!subscribes(both, "news.>"))  // wider than news.*
        #expect(!subscribes(both, "orders.>"))  // could match orders.secret.x
        #expect(!subscribes(both, "orders.*.x"))  // could match orders.secret.x
        #expect(!subscribes(both, "orders.secret.x"))
        #expect(subscribes(both, "orders.secret"))  // orders.secret.> needs one more level
        #expect(!subscribes(both, ">"))
        // $SYS only where an allow pattern names it.
        let open = Self.rule()
        #expect(subscribes(open, "anything.>"))
        #expect(subscribes(open, ">"))  // matches no $ topic
        #expect(!subscribes(open, "$SYS.lagged"))
        #expect(!subscribes(open, "$SYS.>"))
        let wildcardGrant = Self.rule(allow: [">"])
        #expect(!subscribes(wildcardGrant, "$SYS.stats"))
        let system = Self.rule(allow: ["$SYS.>"])
        #expect(subscribes(system, "$SYS.stats"))
        #expect(subscribes(system, "$SYS.>"))
        #expect(!subscribes(system, "stats"))
        // A deny with a leading wildcard cannot touch $ topics.
        let sysWithDeny = Self.rule(allow: ["$SYS.>"], deny: [">"])
        #expect(subscribes(sysWithDeny, "$SYS.lagged"))
    }

    /// covers and overlaps against brute force: every topic of a universe with a literal no
    /// pattern uses (`z`), one level longer than any pattern, so the universe decides exactly.
    @Test func coversAndOverlapsAgreeWithEveryTopicOfAUniverse() {
        let literals = ["a", "b", "$s"]
        var patterns: [String] = []
        func grow(_ prefix: [String]) {
            if !prefix.isEmpty { patterns.append(prefix.joined(separator: ".")) }
            if prefix.count == 3 || prefix.last == ">" { return }
            for level in literals + ["*", ">"] where !(level == "$s" && !prefix.isEmpty) { grow(prefix + [level]) }
        }
        grow([])
        var topics: [String] = []
        func topicsOf(_ prefix: [String]) {
            if !prefix.isEmpty { topics.append(prefix.joined(separator: ".")) }
            if prefix.count == 4 { return }
            for level in ["a", "b", "z", "$s"] where !(level == "$s" && !prefix.isEmpty) { topicsOf(prefix + [level]) }
        }
        topicsOf([])
        let parsed = patterns.map { (text: $0, pattern: Self.pattern($0)) }
        let matched: [[Bool]] = parsed.map { entry in
            topics.map { topic in Array(topic.utf8).withUnsafeBytes { entry.pattern.matches(topic: $0) } }
        }
        var checked = 0
        for (i, p) in parsed.enumerated() {
            for (j, q) in parsed.enumerated() {
                let covers = zip(matched[i], matched[j]).allSatisfy { mine, theirs in !theirs || mine }
                let overlaps = zip(matched[i], matched[j]).contains { $0 && $1 }
                #expect(p.pattern.covers(q.pattern) == covers, "\(p.text) covers \(q.text)")
                #expect(p.pattern.overlaps(q.pattern) == overlaps, "\(p.text) overlaps \(q.text)")
                checked += 1
            }
        }
        #expect(checked > 2000)
    }
}
