// Argument parsing without sockets: options anywhere, `--`, BROKER_ADDR under the flags, usage errors.
import BrokerClient
import Testing
@testable import broker_cli

private func parse(_ line: String, env: [String: String] = [:]) throws(UsageError) -> ParseOutcome {
    try parseArguments(line.split(separator: " ").map(String.init), environment: env)
}

private func invocation(_ line: String, env: [String: String] = [:]) throws -> Invocation {
    guard case let .run(invocation) = try parse(line, env: env) else {
        Issue.record("'\(line)' did not parse to a run")
        throw UsageError(message: "not a run")
    }
    return invocation
}

/// The two stderr lines of the usage error `line` produces.
private func usageText(_ line: String, env: [String: String] = [:]) -> String? {
    do {
        _ = try parse(line, env: env)
        return nil
    } catch {
        return error.text
    }
}

@Suite struct ArgumentParsing {
    @Test func defaultsAreLocalhost7400WithFiveSecondTimeout() throws {
        let run = try invocation("ping")
        #expect(run.endpoint == Endpoint(host: "127.0.0.1", port: 7400))
        #expect(run.timeout == .seconds(5))
    }

    @Test func optionsWorkBeforeAndAfterTheSubcommand() throws {
        let before = try invocation("--port 7401 sub t")
        let after = try invocation("sub t --port 7401")
        #expect(before == after)
        #expect(before.endpoint.port == 7401)
        #expect(before.arguments == ["t"])
    }

    @Test func subcommandOptionsMayAlsoComeFirst() throws {
        let run = try invocation("-v --host ::1 pub t hello world")
        #expect(run.verbose)
        #expect(run.endpoint == Endpoint(host: "::1", port: 7400))
        #expect(run.arguments == ["t", "hello", "world"])
    }

    @Test func equalsFormIsAccepted() throws {
        let run = try invocation("sub --port=7402 --count=3 t")
        #expect(run.endpoint.port == 7402)
        #expect(run.count == 3)
    }

    @Test func doubleDashEndsOptions() throws {
        let run = try invocation("pub t -- -5 --port")
        #expect(run.arguments == ["t", "-5", "--port"])
        #expect(run.endpoint.port == 7400)
    }

    @Test func aLoneDashIsAnArgument() throws {
        #expect(try invocation("pub t -").arguments == ["t", "-"])
    }

    @Test func brokerAddrSetsHostAndPort() throws {
        #expect(try invocation("ping", env: ["BROKER_ADDR": "10.0.0.2:7500"]).endpoint == Endpoint(host: "10.0.0.2", port: 7500))
        #expect(try invocation("ping", env: ["BROKER_ADDR": "[::1]:7401"]).endpoint == Endpoint(host: "::1", port: 7401))
    }

    @Test func flagsWinOverBrokerAddr() throws {
        let run = try invocation("ping --port 7600", env: ["BROKER_ADDR": "10.0.0.2:7500"])
        #expect(run.endpoint == Endpoint(host: "10.0.0.2", port: 7600))
        let both = try invocation("--host example.org ping --port 7600", env: ["BROKER_ADDR": "10.0.0.2:7500"])
        #expect(both.endpoint == Endpoint(host: "example.org", port: 7600))
    }

    @Test func severalBrokersComeFromServerOrBrokerAddr() throws {
        let listed = try invocation("sub t --server 10.0.0.1:7400,[::1]:7401,broker.example:7402")
        #expect(listed.endpoints == [Endpoint(host: "10.0.0.1", port: 7400), Endpoint(host: "::1", port: 7401),
                                     Endpoint(host: "broker.example", port: 7402)])
        #expect(listed.endpoint == Endpoint(host: "10.0.0.1", port: 7400))
        let fromEnvironment = try invocation("ping", env: ["BROKER_ADDR": "10.0.0.2:7500,10.0.0.3:7500"])
        #expect(fromEnvironment.endpoints == [Endpoint(host: "10.0.0.2", port: 7500), Endpoint(host: "10.0.0.3", port: 7500)])
        // --server wins over BROKER_ADDR; a single one is a list of one.
        #expect(try invocation("ping --server 10.0.0.9:1", env: ["BROKER_ADDR": "10.0.0.2:7500,10.0.0.3:7500"]).endpoints
            == [Endpoint(host: "10.0.0.9", port: 1)])
        #expect(try invocation("ping").endpoints == [Endpoint.default])
    }

    @Test func aBadServerListOrServerWithHostIsAUsageError() {
        #expect(usageText("ping --server 10.0.0.1:7400,") == "broker-cli: invalid server list '10.0.0.1:7400,'\nRun 'broker-cli help ping' for usage.\n")
        #expect(usageText("ping --server a:1,b") != nil)
        #expect(usageText("ping --server ::1:7400") != nil)
        #expect(usageText("ping --server a:1 --port 7400") == "broker-cli: give --server or --host/--port, not both\nRun 'broker-cli help ping' for usage.\n")
        #expect(usageText("ping", env: ["BROKER_ADDR": "a:1,,b:2"])?.hasPrefix("broker-cli: invalid BROKER_ADDR 'a:1,,b:2'") == true)
    }

    @Test func timeoutTakesFractionalSeconds() throws {
        #expect(try invocation("ping --timeout 0.25").timeout == .milliseconds(250))
    }

    @Test func subOptions() throws {
        let run = try invocation("sub --json --no-reconnect --count 10 a b.>")
        #expect(run.json && !run.reconnect && run.count == 10)
        #expect(run.arguments == ["a", "b.>"])
    }

    @Test func benchOptions() throws {
        let run = try invocation("bench --pubs 2 --subs 3 --msgs 1000 --size 64 --topic x.y --json")
        #expect(run.pubs == 2 && run.subs == 3 && run.msgs == 1000 && run.size == 64 && run.topic == "x.y" && run.json)
    }

    @Test func statsOptions() throws {
        let once = try invocation("stats --json orders.eu")
        #expect(once.json && !once.watch && once.arguments == ["orders.eu"])
        let watch = try invocation("stats --watch --interval 0.2 --count 2")
        #expect(watch.watch && watch.interval == .milliseconds(200) && watch.count == 2)
        #expect(try invocation("stats --watch").interval == .seconds(1))
    }

    @Test func topOptions() throws {
        let run = try invocation("top --interval 2 --count 3 --limit 5")
        #expect(run.interval == .seconds(2) && run.count == 3 && run.limit == 5)
        #expect(try invocation("top").limit == 20)
    }

    @Test func tokenComesFromTheFlagOrBrokerToken() throws {
        #expect(try invocation("ping").token == nil)
        #expect(try invocation("pub t m --token s3cret").token == "s3cret")
        #expect(try invocation("sub t", env: ["BROKER_TOKEN": "fromenv"]).token == "fromenv")
        #expect(try invocation("--token=flag stats", env: ["BROKER_TOKEN": "fromenv"]).token == "flag")
        #expect(try invocation("top", env: ["BROKER_TOKEN": ""]).token == nil)
    }

    @Test func userComesFromTheFlagOrBrokerUserAndNeedsAToken() throws {
        #expect(try invocation("ping --token t --user alice").user == "alice")
        #expect(try invocation("ping --token t", env: ["BROKER_USER": "bob"]).user == "bob")
        #expect(try invocation("ping --user carol", env: ["BROKER_USER": "bob", "BROKER_TOKEN": "t"]).user == "carol")
        #expect(usageText("ping --user alice") == "broker-cli: --user needs a token (--token or BROKER_TOKEN)\nRun 'broker-cli help ping' for usage.\n")
        #expect(usageText("ping --token t --user a\u{7F}b") != nil)
    }

    @Test func tlsOptionsApplyToEveryBroker() throws {
        let plain = try invocation("ping")
        #expect(plain.endpoint.tls == nil)
        let tls = try invocation("ping --tls --server a:1,b:2")
        #expect(tls.endpoints.map(\.tls) == [TLSClientOptions(), TLSClientOptions()])
        let ca = try invocation("sub t --ca /etc/ca.pem --cert c.pem --key k.pem")
        #expect(ca.endpoint.tls == TLSClientOptions(caFile: "/etc/ca.pem", certificateFile: "c.pem", keyFile: "k.pem"))
        #expect(try invocation("ping --insecure").endpoint.tls?.verify == false)
        #expect(try invocation("ping --server tls://a:7443").endpoint.tls == TLSClientOptions())
        #expect(try invocation("ping --ca x.pem", env: ["BROKER_ADDR": "wss://a:8443/ws"]).endpoint
            == Endpoint(host: "a", port: 8443, webSocketPath: "/ws", tls: TLSClientOptions(caFile: "x.pem")))
        #expect(usageText("ping --cert c.pem") == "broker-cli: --cert and --key go together\nRun 'broker-cli help ping' for usage.\n")
    }

    @Test func helpAndVersion() throws {
        #expect(try parse("--help") == .help(nil))
        #expect(try parse("-h") == .help(nil))
        #expect(try parse("help") == .help(nil))
        #expect(try parse("help pub") == .help(.pub))
        #expect(try parse("pub --help") == .help(.pub))
        #expect(try parse("sub -h") == .help(.sub))
        #expect(try parse("--version") == .version)
        #expect(try parse("help stats") == .help(.stats))
        #expect(try parse("top -h") == .help(.top))
    }
}

@Suite struct UsageErrors {
    @Test func unknownOptionNamesTheSubcommandsHelp() {
        #expect(usageText("pub t m --x") == "broker-cli: unknown option '--x'\nRun 'broker-cli help pub' for usage.\n")
        #expect(usageText("--x pub t m") == "broker-cli: unknown option '--x'\nRun 'broker-cli help pub' for usage.\n")
        #expect(usageText("--x") == "broker-cli: unknown option '--x'\nRun 'broker-cli --help' for usage.\n")
    }

    @Test func optionOfAnotherSubcommandIsUnknown() {
        #expect(usageText("ping --json") == "broker-cli: unknown option '--json'\nRun 'broker-cli help ping' for usage.\n")
        #expect(usageText("pub t m --count 3") == "broker-cli: unknown option '--count'\nRun 'broker-cli help pub' for usage.\n")
    }

    @Test func unknownAndMissingSubcommand() {
        #expect(usageText("frobnicate") == "broker-cli: unknown subcommand 'frobnicate'\nRun 'broker-cli --help' for usage.\n")
        #expect(usageText("") == "broker-cli: missing subcommand\nRun 'broker-cli --help' for usage.\n")
        #expect(usageText("help nope") == "broker-cli: unknown subcommand 'nope'\nRun 'broker-cli --help' for usage.\n")
    }

    @Test func badValues() {
        #expect(usageText("ping --port 0") == "broker-cli: invalid port '0'\nRun 'broker-cli help ping' for usage.\n")
        #expect(usageText("ping --port 70000") == "broker-cli: invalid port '70000'\nRun 'broker-cli help ping' for usage.\n")
        #expect(usageText("ping --timeout -1") == "broker-cli: invalid timeout '-1'\nRun 'broker-cli help ping' for usage.\n")
        #expect(usageText("sub t --count 0") == "broker-cli: invalid count '0'\nRun 'broker-cli help sub' for usage.\n")
        #expect(usageText("sub t --port") == "broker-cli: option '--port' needs a value\nRun 'broker-cli help sub' for usage.\n")
        #expect(usageText("sub t --json=1") == "broker-cli: option '--json' takes no value\nRun 'broker-cli help sub' for usage.\n")
    }

    @Test func missingArguments() {
        #expect(usageText("pub") == "broker-cli: pub needs a topic\nRun 'broker-cli help pub' for usage.\n")
        #expect(usageText("sub -v") == "broker-cli: sub needs at least one topic or pattern\nRun 'broker-cli help sub' for usage.\n")
        #expect(usageText("ping extra") == "broker-cli: unexpected argument 'extra'\nRun 'broker-cli help ping' for usage.\n")
    }

    @Test func statsAndTopOptionsAreChecked() {
        #expect(usageText("stats --count 2") == "broker-cli: option '--count' needs --watch\nRun 'broker-cli help stats' for usage.\n")
        #expect(usageText("stats --interval 2") == "broker-cli: option '--interval' needs --watch\nRun 'broker-cli help stats' for usage.\n")
        #expect(usageText("stats t --watch") == "broker-cli: --watch shows the broker's figures, not a topic's\nRun 'broker-cli help stats' for usage.\n")
        #expect(usageText("stats a b") == "broker-cli: unexpected argument 'b'\nRun 'broker-cli help stats' for usage.\n")
        #expect(usageText("top --interval 0") == "broker-cli: invalid interval '0'\nRun 'broker-cli help top' for usage.\n")
        #expect(usageText("top --limit 0") == "broker-cli: invalid limit '0'\nRun 'broker-cli help top' for usage.\n")
        #expect(usageText("top --json") == "broker-cli: unknown option '--json'\nRun 'broker-cli help top' for usage.\n")
        #expect(usageText("pub t m --watch") == "broker-cli: unknown option '--watch'\nRun 'broker-cli help pub' for usage.\n")
    }

    @Test func tokensThatAUTHCannotCarryAreRefusedWithoutEchoingThem() {
        #expect(usageText("ping --token=") == "broker-cli: invalid token (one word of printable characters expected; the value is not shown)\nRun 'broker-cli help ping' for usage.\n")
        #expect(usageText("ping", env: ["BROKER_TOKEN": "two words"])
            == "broker-cli: invalid BROKER_TOKEN (one word of printable characters expected; the value is not shown)\nRun 'broker-cli help ping' for usage.\n")
    }

    @Test func malformedBrokerAddr() {
        #expect(usageText("ping", env: ["BROKER_ADDR": "::1:7400"])
            == "broker-cli: invalid BROKER_ADDR '::1:7400' (expected host:port, [ipv6]:port, tls://host:port or ws[s]://host:port/path, or several separated by commas)\nRun 'broker-cli help ping' for usage.\n")
        #expect(usageText("ping", env: ["BROKER_ADDR": "localhost"]) != nil)
    }

    @Test func benchSizeMustHoldTheTimestamp() {
        #expect(usageText("bench --size 8")
            == "broker-cli: invalid size '8' (16 to 65000 bytes: the payload carries a timestamp)\nRun 'broker-cli help bench' for usage.\n")
    }
}

@Suite struct EndpointParsing {
    @Test func parsesHostPortAndBracketedIPv6() {
        #expect(Endpoint(parsing: "localhost:80") == Endpoint(host: "localhost", port: 80))
        #expect(Endpoint(parsing: "[fe80::1]:7400") == Endpoint(host: "fe80::1", port: 7400))
        #expect(Endpoint(parsing: "[::1]") == nil)
        #expect(Endpoint(parsing: ":7400") == nil)
        #expect(Endpoint(parsing: "host:") == nil)
        #expect(Endpoint(parsing: "host:+80") == nil)
    }

    @Test func parsesTLSAddresses() {
        #expect(Endpoint(parsing: "tls://broker.example:7443") == Endpoint(host: "broker.example", port: 7443, tls: TLSClientOptions()))
        #expect(Endpoint(parsing: "tls://[::1]:7443")?.description == "tls://[::1]:7443")
        #expect(Endpoint(parsing: "tls://ws://a:1/ws") == nil)
        #expect(Endpoint(parsing: "tls://a") == nil)
        #expect(Endpoint(parsing: "wss://a:8443/ws")?.description == "wss://a:8443/ws")
    }

    @Test func parsesWebSocketAddressesWithTheirPath() {
        #expect(Endpoint(parsing: "ws://127.0.0.1:8080/ws") == Endpoint(host: "127.0.0.1", port: 8080, webSocketPath: "/ws"))
        #expect(Endpoint(parsing: "ws://localhost:80") == Endpoint(host: "localhost", port: 80, webSocketPath: "/ws"))
        #expect(Endpoint(parsing: "ws://[::1]:9/a/b") == Endpoint(host: "::1", port: 9, webSocketPath: "/a/b"))
        #expect(Endpoint(parsing: "ws://host") == nil)
        #expect(Endpoint(parsing: "ws://host:80/a b") == nil)
        #expect(Endpoint(parsing: "wss://host:80/ws") == Endpoint(host: "host", port: 80, webSocketPath: "/ws", tls: TLSClientOptions()))
        #expect(Endpoint(parsing: "wss://host") == nil)
        #expect(Endpoint(host: "::1", port: 9, webSocketPath: "/ws").description == "ws://[::1]:9/ws")
        #expect(parseEndpointList("ws://a:1/ws,b:2") == [Endpoint(host: "a", port: 1, webSocketPath: "/ws"), Endpoint(host: "b", port: 2)])
    }

    @Test func describesIPv6WithBrackets() {
        #expect(Endpoint(host: "::1", port: 7400).description == "[::1]:7400")
        #expect(Endpoint(host: "127.0.0.1", port: 7400).description == "127.0.0.1:7400")
    }
}
