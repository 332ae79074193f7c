import Testing
@testable import Broker

@Suite struct DefaultsTests {
    @Test func builtInDefaults() {
        let config = BrokerConfig()
        #expect(config.host == "127.0.0.1")
        #expect(config.port == 7400)
        #expect(config.threads == BrokerConfig.defaultThreads)
        #expect(config.threads >= 1)
        #expect(config.capacity == 65_536)
        #expect(config.maxConnections == 0)
        #expect(config.maxSubscriptionsPerConnection == 10_000)
        #expect(config.maxTopics == 1_000_000)
        #expect(config.maxLineBytes == 65_536)
        #expect(config.idleTimeoutMs == 60_000)
        #expect(config.shutdownGraceMs == 5_000)
        #expect(config.tcpKeepaliveS == 60)
        #expect(config.idlePollUs == 100)
        #expect(config.logLevel == .info)
        #expect(config.maxRingBytes == 64 << 20)
        #expect(config.maxHeldBytes == 1 << 30)
        #expect(config.lingerMs == 60_000)
        #expect(config.maxPayloadBytes == 1 << 20)
    }

    @Test func keyTableNamesAndOrder() {
        #expect(ConfigKey.all.map(\.name) == [
            "host", "port", "threads", "capacity", "max_ring_bytes", "max_held_bytes", "linger_ms", "max_payload_bytes",
            "max_connections",
            "max_subscriptions_per_connection", "max_topics", "max_line_bytes",
            "idle_timeout_ms", "shutdown_grace_ms", "tcp_keepalive_s", "idle_poll_us",
            "log_level", "stats_interval_ms", "metrics_port", "http_port", "metrics_top_topics",
            "tls_port", "https_port", "tls_cert_file", "tls_key_file", "tls_client_ca_file", "tls_handshake_timeout_ms", "plaintext",
            "auth_token", "auth_token_file", "acl_file",
            "engine", "engine_password_file",
        ])
        #expect(Set(ConfigKey.all.map(\.name)).count == ConfigKey.all.count)
    }

    @Test func flagsAreKeyNamesWithDashes() {
        #expect(ConfigKey.named("max_line_bytes")?.flag == "--max-line-bytes")
        #expect(ConfigKey.named("threads")?.flag == "--threads")
        #expect(ConfigKey.named("capacity")?.flag == "--capacity")
        #expect(ConfigKey.forFlag("--max-subscriptions-per-connection")?.name == "max_subscriptions_per_connection")
        #expect(ConfigKey.forFlag("--max_line_bytes") == nil)
    }

    @Test func liveReloadClassification() {
        let restart = ConfigKey.all.filter { !$0.reloadsLive }.map(\.name)
        #expect(restart == ["host", "port", "threads", "metrics_port", "http_port", "tls_port", "https_port", "plaintext",
                            "engine", "engine_password_file"])
    }

    @Test func defaultsRenderAndReparse() throws {
        // Every key's rendered default parses back to the same value.
        var config = BrokerConfig()
        config.logLevel = .error
        config.port = 1
        for key in ConfigKey.all {
            var copy = BrokerConfig()
            #expect(key.apply(key.render(config), to: &copy) == nil)
            #expect(key.isSame(in: copy, and: config))
        }
        #expect(ConfigKey.named("threads")?.defaultDescription == "number of online CPUs")
        #expect(ConfigKey.named("port")?.defaultDescription == "7400")
        #expect(ConfigKey.named("log_level")?.defaultDescription == "info")
    }

    @Test func logLevelOrder() {
        #expect(LogLevel.debug < .info)
        #expect(LogLevel.info < .warn)
        #expect(LogLevel.warn < .error)
        #expect(LogLevel.allCases.sorted() == [.debug, .info, .warn, .error])
    }
}
