import Testing
@testable import Broker

@Suite struct CommandLineTests {
    static let noFiles = ConfigFileAccess.inMemory([:])

    func parse(_ args: [String], files: ConfigFileAccess = noFiles) throws(ConfigError) -> LaunchCommand {
        try BrokerCommandLine.parse(args, files: files)
    }

    func errorOf(_ args: [String], files: ConfigFileAccess = noFiles) -> ConfigError? {
        do {
            _ = try parse(args, files: files)
            return nil
        } catch {
            return error
        }
    }

    @Test func noArgumentsNoFileRunsOnDefaults() throws {
        #expect(try parse([]) == .run(config: BrokerConfig(), configPath: nil, overriddenKeys: []))
    }

    @Test func defaultFileIsUsedWhenPresent() throws {
        let files = ConfigFileAccess.inMemory(["conf/broker.conf": "port 9\n"])
        var expected = BrokerConfig()
        expected.port = 9
        #expect(try parse([], files: files) == .run(config: expected, configPath: "conf/broker.conf", overriddenKeys: []))
    }

    @Test func spaceAndEqualsForms() throws {
        let command = try parse(["--port", "8000", "--max-line-bytes=4096", "--log-level", "debug", "--host=::1"])
        var expected = BrokerConfig()
        expected.port = 8000
        expected.maxLineBytes = 4096
        expected.logLevel = .debug
        expected.host = "::1"
        #expect(command == .run(config: expected, configPath: nil,
                                overriddenKeys: ["port", "max_line_bytes", "log_level", "host"]))
    }

    @Test func everyKeyHasAWorkingFlag() throws {
        var source = BrokerConfig()
        source.host = "::"
        source.port = 1
        source.threads = 3
        source.capacity = 7
        source.maxRingBytes = 4096
        source.maxHeldBytes = 1 << 21
        source.lingerMs = 23
        source.maxPayloadBytes = 29
        source.maxConnections = 11
        source.maxSubscriptionsPerConnection = 13
        source.maxTopics = 17
        source.maxLineBytes = 128
        source.idleTimeoutMs = 0
        source.shutdownGraceMs = 19
        source.tcpKeepaliveS = 0
        source.idlePollUs = 0
        source.logLevel = .warn
        source.statsIntervalMs = 0
        source.metricsPort = 9100
        source.httpPort = 9100
        source.metricsTopTopics = 5
        source.tlsPort = 7443
        source.httpsPort = 8443
        source.tlsCertFile = "/etc/broker/cert.pem"
        source.tlsKeyFile = "/etc/broker/key.pem"
        source.tlsClientCAFile = "/etc/broker/clients.pem"
        source.tlsHandshakeTimeoutMs = 2500
        source.plaintext = false
        source.aclFile = "/etc/broker/acl.conf"
        source.authToken = "t0ken"
        source.authTokenFile = "/run/token"
        source.engine = .redis(host: "::1", port: 6380, database: 2)
        source.enginePasswordFile = "/run/redis-password"
        var args: [String] = []
        for key in ConfigKey.all {
            #expect(!key.isSame(in: source, and: BrokerConfig()), "pick a non-default for \(key.name)")
            args += [key.flag, key.render(source)]
        }
        #expect(try parse(args) == .run(config: source, configPath: nil, overriddenKeys: Set(ConfigKey.all.map(\.name))))
    }

    @Test func flagsOverrideTheFile() throws {
        let files = ConfigFileAccess.inMemory(["/etc/b.conf": "port 1000\ncapacity 5\nlog_level error\n"])
        let command = try parse(["--capacity=9", "--config", "/etc/b.conf"], files: files)
        var expected = BrokerConfig()
        expected.port = 1000
        expected.capacity = 9
        expected.logLevel = .error
        #expect(command == .run(config: expected, configPath: "/etc/b.conf", overriddenKeys: ["capacity"]))
    }

    @Test func configEqualsForm() throws {
        let files = ConfigFileAccess.inMemory(["x.conf": "threads 2\n", "conf/broker.conf": "threads 5\n"])
        guard case let .run(config, path, _) = try parse(["--config=x.conf"], files: files) else {
            Issue.record("expected .run")
            return
        }
        #expect(config.threads == 2)
        #expect(path == "x.conf")
    }

    @Test func unknownFlagIsUsageError() {
        let error = errorOf(["--port", "1", "--frobnicate", "2"])
        #expect(error == .badFlag(flag: "--frobnicate", reason: "unknown option (see --help)"))
        #expect(error?.exitCode == 64)
        #expect(error?.description == "--frobnicate: unknown option (see --help)")
        #expect(errorOf(["--max_line_bytes=70"])?.description == "--max_line_bytes: unknown option (see --help)")
        #expect(errorOf(["-p", "1"])?.description == "-p: unknown option (see --help)")
        #expect(errorOf(["serve"])?.description == "serve: unexpected argument (see --help)")
        #expect(errorOf(["--"])?.exitCode == 64)
    }

    @Test func missingValueIsUsageError() {
        #expect(errorOf(["--port"])?.description == "--port: missing value")
        #expect(errorOf(["--port", "--threads", "2"])?.description == "--port: missing value")
        #expect(errorOf(["--config"])?.description == "--config: missing value")
        #expect(errorOf(["--config="])?.description == "--config: missing value")
        #expect(errorOf(["--port"])?.exitCode == 64)
    }

    @Test func badFlagValueIsUsageError() {
        let error = errorOf(["--max-line-bytes", "abc"])
        #expect(error?.description == "--max-line-bytes: expected an integer from 64 to 67108864, got 'abc'")
        #expect(error?.exitCode == 64)
        #expect(errorOf(["--port="])?.description == "--port: expected an integer from 0 to 65535, got ''")
        #expect(errorOf(["--log-level=loud"])?.description == "--log-level: expected one of debug, info, warn, error, got 'loud'")
    }

    @Test func repeatedFlagIsUsageError() {
        #expect(errorOf(["--port=1", "--port", "2"])?.description == "--port: given more than once")
        #expect(errorOf(["--config=a", "--config=b"])?.description == "--config: given more than once")
    }

    @Test func flagErrorsComeBeforeFileErrors() {
        let files = ConfigFileAccess.inMemory(["conf/broker.conf": "bogus 1\n"])
        #expect(errorOf(["--bogus"], files: files)?.exitCode == 64)
        #expect(errorOf([], files: files)?.description == "conf/broker.conf:1: bogus: unknown key")
    }

    @Test func badFileValueIsConfigError() {
        let files = ConfigFileAccess.inMemory(["b.conf": "# c\nport 70000\n"])
        let error = errorOf(["--config", "b.conf", "--port", "1"], files: files)
        #expect(error?.description == "b.conf:2: port: expected an integer from 0 to 65535, got '70000'")
        #expect(error?.exitCode == 78)
    }

    @Test func missingConfigFileIsConfigError() {
        let error = errorOf(["--config", "/nope.conf"])
        #expect(error?.description == "/nope.conf: cannot read configuration file: No such file or directory")
        #expect(error?.exitCode == 78)
    }

    @Test func configSourceLine() {
        #expect(BrokerCommandLine.configSourceLine(configPath: "conf/broker.conf") == "configuration file: conf/broker.conf")
        #expect(BrokerCommandLine.configSourceLine(configPath: nil) == "configuration file: none (built-in defaults)")
    }

    @Test func helpAndVersion() throws {
        #expect(try parse(["--help"]) == .help(HelpText.text))
        #expect(try parse(["-h"]) == .help(HelpText.text))
        #expect(try parse(["--port", "x", "--help"]) == .help(HelpText.text))
        #expect(try parse(["--version"]) == .version)
        #expect(try parse(["-V"]) == .version)
        #expect(try parse(["-V", "-h"]) == .help(HelpText.text))
    }
}
