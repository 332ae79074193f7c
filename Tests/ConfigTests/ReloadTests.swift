import Testing
@testable import Broker

@Suite struct ReloadTests {
    @Test func noChanges() {
        let plan = BrokerConfig.reloadPlan(from: BrokerConfig(), to: BrokerConfig())
        #expect(plan.isEmpty)
        #expect(plan.logLine == "configuration reloaded (no changes)")
    }

    @Test func classification() {
        var new = BrokerConfig()
        new.host = "::1"
        new.port = 1
        new.threads = BrokerConfig().threads + 1
        new.capacity = 2
        new.maxConnections = 3
        new.maxSubscriptionsPerConnection = 4
        new.maxTopics = 5
        new.maxLineBytes = 100
        new.idleTimeoutMs = 0
        new.shutdownGraceMs = 6
        new.tcpKeepaliveS = 0
        new.idlePollUs = 250
        new.logLevel = .debug
        let plan = BrokerConfig.reloadPlan(from: BrokerConfig(), to: new)
        #expect(plan.liveKeys == [
            "capacity", "max_connections", "max_subscriptions_per_connection", "max_topics",
            "max_line_bytes", "idle_timeout_ms", "shutdown_grace_ms", "tcp_keepalive_s", "idle_poll_us",
            "log_level",
        ])
        #expect(plan.restartKeys == ["host", "port", "threads"])
    }

    @Test func logLines() {
        var new = BrokerConfig()
        new.logLevel = .debug
        new.capacity = 5
        #expect(BrokerConfig.reloadPlan(from: BrokerConfig(), to: new).logLine
            == "configuration reloaded (changed: capacity, log_level)")
        new.port = 1
        #expect(BrokerConfig.reloadPlan(from: BrokerConfig(), to: new).logLine
            == "configuration reloaded (changed: capacity, log_level; needs restart: port)")
        var portOnly = BrokerConfig()
        portOnly.port = 2
        #expect(BrokerConfig.reloadPlan(from: BrokerConfig(), to: portOnly).logLine
            == "configuration reloaded (needs restart: port)")
        let error = ConfigError.badFileEntry(file: "conf/broker.conf", line: 12, key: "max_line_bytes",
                                             reason: "expected an integer from 64 to 67108864, got 'abc'")
        #expect(ReloadOutcome.rejected(error).logLine
            == "reload rejected: conf/broker.conf:12: max_line_bytes: expected an integer from 64 to 67108864, got 'abc'")
        #expect(ReloadOutcome.rejected(error).logLine.hasPrefix(ReloadLog.rejectedPrefix))
    }

    @Test func reloadReappliesCommandLineOverrides() throws {
        let launchFiles = ConfigFileAccess.inMemory(["b.conf": "capacity 10\nlog_level info\nmax_topics 7\n"])
        guard case let .run(current, path, overridden) = try BrokerCommandLine.parse(
            ["--config", "b.conf", "--log-level", "error", "--max-topics=9"], files: launchFiles) else {
            Issue.record("expected .run")
            return
        }
        #expect(current.logLevel == .error)
        #expect(current.maxTopics == 9)
        #expect(current.capacity == 10)

        // The file changes every overridden key and one other; flags still win.
        let edited = ConfigFileAccess.inMemory(["b.conf": "capacity 20\nlog_level debug\nmax_topics 8\n"])
        let outcome = BrokerConfig.reload(current: current, configPath: path, overriddenKeys: overridden, files: edited)
        var expected = current
        expected.capacity = 20
        #expect(outcome == .applied(config: expected, plan: ReloadPlan(liveKeys: ["capacity"], restartKeys: [])))
        #expect(outcome.logLine == "configuration reloaded (changed: capacity)")
    }

    @Test func reloadKeepsRestartKeysButReportsThem() {
        let files = ConfigFileAccess.inMemory(["b.conf": "port 9999\nidle_timeout_ms 0\n"])
        let outcome = BrokerConfig.reload(current: BrokerConfig(), configPath: "b.conf", overriddenKeys: [], files: files)
        var expected = BrokerConfig()
        expected.idleTimeoutMs = 0
        #expect(outcome == .applied(config: expected,
                                    plan: ReloadPlan(liveKeys: ["idle_timeout_ms"], restartKeys: ["port"])))
        #expect(outcome.logLine == "configuration reloaded (changed: idle_timeout_ms; needs restart: port)")
    }

    @Test func reloadRejectsBadFile() {
        let files = ConfigFileAccess.inMemory(["b.conf": "port 1\nmax_line_bytes abc\n"])
        let outcome = BrokerConfig.reload(current: BrokerConfig(), configPath: "b.conf", overriddenKeys: [], files: files)
        #expect(outcome.logLine == "reload rejected: b.conf:2: max_line_bytes: expected an integer from 64 to 67108864, got 'abc'")
        let gone = BrokerConfig.reload(current: BrokerConfig(), configPath: "b.conf", overriddenKeys: [],
                                       files: .inMemory([:]))
        #expect(gone.logLine == "reload rejected: b.conf: cannot read configuration file: No such file or directory")
    }

    @Test func reloadWithoutFileGoesBackToDefaultsPlusFlags() throws {
        guard case let .run(current, path, overridden) = try BrokerCommandLine.parse(
            ["--port", "5"], files: .inMemory([:])) else {
            Issue.record("expected .run")
            return
        }
        #expect(path == nil)
        let outcome = BrokerConfig.reload(current: current, configPath: path, overriddenKeys: overridden,
                                          files: .inMemory([:]))
        #expect(outcome == .applied(config: current, plan: ReloadPlan(liveKeys: [], restartKeys: [])))
    }
}
