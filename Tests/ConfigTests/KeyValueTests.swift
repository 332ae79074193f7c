import Testing
@testable import Broker

/// Every key: accepted values, and the exact one-line error for rejected ones.
@Suite struct KeyValueTests {
    static func parse(_ line: String) throws(ConfigError) -> BrokerConfig {
        try ConfigFileParser.parse("# header\n" + line + "\n", file: "conf/broker.conf")
    }

    static func errorLine(_ line: String) -> String? {
        do {
            _ = try parse(line)
            return nil
        } catch {
            #expect(error.exitCode == 78)
            return error.description
        }
    }

    @Test(arguments: [
        ("host 0.0.0.0", "0.0.0.0"), ("host ::1", "::1"), ("host ::", "::"),
        ("host \"fe80::1\"", "fe80::1"), ("host 192.168.1.20", "192.168.1.20"),
    ])
    func hostAccepted(line: String, expected: String) throws {
        #expect(try Self.parse(line).host == expected)
    }

    @Test(arguments: ["localhost", "256.1.1.1", "1.2.3", "::1::2", "\"\"", "127.0.0.1%lo"])
    func hostRejected(value: String) {
        let shown = value == "\"\"" ? "" : value
        #expect(Self.errorLine("host \(value)")
            == "conf/broker.conf:2: host: expected an IPv4 or IPv6 address literal, got '\(shown)'")
    }

    /// (key, accepted values with expected result, rejected values, range text)
    static let integerCases: [(String, [String: Int], [String], String)] = [
        ("port", ["0": 0, "1": 1, "65535": 65535, "007400": 7400], ["65536", "-1", "+1", "x", "1.5", "99999999999999999999999"], "0 to 65535"),
        ("threads", ["1": 1, "64": 64, "4096": 4096], ["0", "4097", "-2", "many"], "1 to 4096"),
        ("capacity", ["1": 1, "16777216": 16777216], ["0", "16777217"], "1 to 16777216"),
        ("max_ring_bytes", ["1024": 1024, "1099511627776": 1099511627776], ["1023", "1099511627777", "1M"], "1024 to 1099511627776"),
        ("max_held_bytes", ["1048576": 1048576, "17592186044416": 17592186044416], ["1048575", "17592186044417"], "1048576 to 17592186044416"),
        ("linger_ms", ["0": 0, "86400000": 86400000], ["86400001", "-1"], "0 to 86400000"),
        ("max_payload_bytes", ["0": 0, "1073741824": 1073741824], ["1073741825", "-1"], "0 to 1073741824"),
        ("max_connections", ["0": 0, "100": 100, "16777216": 16777216], ["16777217", "-1"], "0 to 16777216"),
        ("max_subscriptions_per_connection", ["1": 1, "16777216": 16777216], ["0", "16777217"], "1 to 16777216"),
        ("max_topics", ["1": 1, "268435456": 268435456], ["0", "268435457"], "1 to 268435456"),
        ("max_line_bytes", ["64": 64, "67108864": 67108864], ["63", "67108865", "abc", "64k"], "64 to 67108864"),
        ("idle_timeout_ms", ["0": 0, "86400000": 86400000], ["86400001", "1e3"], "0 to 86400000"),
        ("shutdown_grace_ms", ["0": 0, "600000": 600000], ["600001"], "0 to 600000"),
        ("tcp_keepalive_s", ["0": 0, "32767": 32767], ["32768"], "0 to 32767"),
        ("idle_poll_us", ["0": 0, "100": 100, "1000": 1000], ["1001", "-1", "50us"], "0 to 1000"),
        ("stats_interval_ms", ["0": 0, "86400000": 86400000], ["86400001", "-5"], "0 to 86400000"),
        ("metrics_port", ["0": 0, "65535": 65535], ["65536"], "0 to 65535"),
        ("http_port", ["0": 0, "8080": 8080, "65535": 65535], ["65536", "-1"], "0 to 65535"),
        ("metrics_top_topics", ["0": 0, "10000": 10000], ["10001"], "0 to 10000"),
        ("tls_port", ["0": 0, "7443": 7443], ["65536", "-1"], "0 to 65535"),
        ("https_port", ["0": 0, "8443": 8443], ["65536"], "0 to 65535"),
        ("tls_handshake_timeout_ms", ["100": 100, "600000": 600_000], ["99", "600001"], "100 to 600000"),
    ]

    @Test func integerKeysAcceptAndReject() throws {
        for (name, accepted, rejected, range) in Self.integerCases {
            let key = try #require(ConfigKey.named(name))
            for (text, value) in accepted {
                let config = try Self.parse("\(name) \(text)")
                #expect(key.render(config) == String(value), "\(name) \(text)")
            }
            for text in rejected {
                #expect(Self.errorLine("\(name) \(text)")
                    == "conf/broker.conf:2: \(name): expected an integer from \(range), got '\(text)'")
            }
        }
        // Every integer key in the table is covered above.
        let covered = Set(Self.integerCases.map(\.0))
        #expect(covered == Set(ConfigKey.all.map(\.name)).subtracting(["host", "log_level", "auth_token", "auth_token_file", "engine", "engine_password_file",
                                                                                     "tls_cert_file", "tls_key_file", "tls_client_ca_file", "plaintext", "acl_file"]))
    }

    @Test func aBadTokenIsRefusedWithoutRepeatingIt() throws {
        #expect(try Self.parse("auth_token s3cr3t-Token_1").authToken == "s3cr3t-Token_1")
        #expect(try Self.parse("auth_token \"\"").authToken == "")
        let line = Self.errorLine("auth_token \"has space\"")
        #expect(line == "conf/broker.conf:2: auth_token: expected printable ASCII without spaces, at most 4096 bytes (the value is not shown)")
        #expect(!(line ?? "").contains("has space"))
        #expect(try Self.parse("auth_token_file /etc/broker/token").authTokenFile == "/etc/broker/token")
    }

    /// A path with a control character is refused (one ending in CR would not survive a write-back).
    @Test func pathsRefuseControlCharacters() throws {
        #expect(try Self.parse("tls_cert_file /etc/broker/cert.pem").tlsCertFile == "/etc/broker/cert.pem")
        #expect(try Self.parse("acl_file \"/etc/broker/my acl.conf\"").aclFile == "/etc/broker/my acl.conf")
        for bad in ["/etc/a\rb", "/etc/a\tb", "/etc/a\u{7F}"] {
            #expect(Self.errorLine("tls_key_file \"\(bad)\"")?.contains("tls_key_file: expected a file path") == true, "\(bad.debugDescription)")
        }
        // The fuzz target's input: a value that ends with CR once the trailing tab is trimmed.
        #expect(Self.errorLine("tls_client_ca_file /x\r\t") != nil)
    }

    @Test func exampleErrorLineFromTheSpec() {
        #expect(Self.errorLine("max_line_bytes abc")
            == "conf/broker.conf:2: max_line_bytes: expected an integer from 64 to 67108864, got 'abc'")
    }

    @Test func logLevelValues() throws {
        for level in LogLevel.allCases {
            #expect(try Self.parse("log_level \(level.rawValue)").logLevel == level)
        }
        #expect(try Self.parse("log_level \"warn\"").logLevel == .warn)
        for bad in ["INFO", "warning", "trace", "0"] {
            #expect(Self.errorLine("log_level \(bad)")
                == "conf/broker.conf:2: log_level: expected one of debug, info, warn, error, got '\(bad)'")
        }
    }
}
