// Parsing the command line by hand: options anywhere, `--` ends them, BROKER_ADDR and BROKER_TOKEN under the flags.
import BrokerClient
import Protocol

/// The subcommands, in the order help lists them.
enum Subcommand: String, CaseIterable, Sendable {
    case pub, sub, ping, bench, stats, top, help
}

/// What the command line asks for, fully checked.
struct Invocation: Equatable, Sendable {
    var subcommand: Subcommand
    /// The broker: defaults, then BROKER_ADDR, then `--server` or `--host`/`--port`.
    var endpoint = Endpoint.default
    /// Further brokers to fail over to, in order (the rest of a `--server` or BROKER_ADDR list).
    var alternates: [Endpoint] = []

    /// Every broker to try, the first one first.
    var endpoints: [Endpoint] { [endpoint] + alternates }
    /// How long to wait for the broker to accept a connection.
    var timeout: Duration = .seconds(5)
    /// The token sent with `AUTH` after connecting: BROKER_TOKEN, then `--token`; nil sends none.
    var token: String?
    /// The `acl_file` user the token belongs to: BROKER_USER, then `--user` (`AUTH <user> <token>`).
    var user: String?
    /// `-v`: pub prints receivers and totals, sub prints `topic payload`.
    var verbose = false
    /// `--json`: sub, bench and stats print JSON.
    var json = false
    /// `--count N`: sub exits after N messages; stats --watch and top after N refreshes.
    var count: Int?
    /// `--watch`: stats prints a line of rates per refresh.
    var watch = false
    /// `--interval SECONDS`: the refresh period of stats --watch and top.
    var interval: Duration = .seconds(1)
    /// `--limit K`: the rows top shows.
    var limit = 20
    /// top `--http HOST:PORT`: the broker's HTTP port, whose `/api/v1/connections` gives the
    /// subscribers most behind now (instead of the `$SYS.lagged` reports).
    var http: Endpoint?
    /// False with `--no-reconnect`.
    var reconnect = true
    /// The arguments that are not options, after the subcommand.
    var arguments: [String] = []
    /// bench: publishers, subscribers, messages in total, payload size, topic.
    var pubs = 1
    var subs = 1
    var msgs = 100_000
    var size = 128
    var topic = "bench"
    /// `--protocol N`: the version sub and bench speak (nil: sub 2, bench 1).
    var protocolVersion: ProtocolVersion?
    /// sub `--from EPOCH:SEQ`: start after this position of the one topic.
    var from: StreamPosition?
    /// sub `--last N`: start with the last N messages the topic holds.
    var last: UInt64?
    /// sub `--group NAME`: join this queue group with every topic or pattern.
    var group: String?
    /// sub `--seq`: print each message's sequence before its payload.
    var showSeq = false
    /// pub `--file PATH`: publish the file's bytes as one message (BPUB).
    var file: String?
    /// pub `--binary`: publish all of stdin as one message (BPUB).
    var binary = false

    /// True when sub uses something only version 2 has (so it cannot fall back to version 1).
    var needsVersion2: Bool {
        protocolVersion == .v2 || from != nil || last != nil || group != nil || showSeq
    }
}

/// What to do: run a subcommand, print help, or print the version.
enum ParseOutcome: Equatable, Sendable {
    case run(Invocation)
    /// Help for the whole tool (nil) or one subcommand, printed on stdout, exit 0.
    case help(Subcommand?)
    case version
}

/// A usage error: one line and a hint on stderr, exit 64 (`EX_USAGE`).
struct UsageError: Error, Equatable, Sendable {
    /// What is wrong, without the program name.
    var message: String
    /// The subcommand whose help the hint points to, nil for the tool's help.
    var subcommand: Subcommand?

    /// The two lines printed on stderr.
    var text: String {
        let hint = subcommand.map { "broker-cli help \($0.rawValue)" } ?? "broker-cli --help"
        return "broker-cli: \(message)\nRun '\(hint)' for usage.\n"
    }
}

/// The options broker-cli knows and which subcommands take them.
private enum Option: String, CaseIterable {
    case help = "--help", version = "--version", host = "--host", port = "--port", server = "--server", timeout = "--timeout"
    case verbose = "--verbose", json = "--json", count = "--count", noReconnect = "--no-reconnect"
    case pubs = "--pubs", subs = "--subs", msgs = "--msgs", size = "--size", topic = "--topic"
    case token = "--token", watch = "--watch", interval = "--interval", limit = "--limit"
    case protocolVersion = "--protocol", from = "--from", last = "--last", group = "--group", seq = "--seq"
    case file = "--file", binary = "--binary", http = "--http"
    case user = "--user", tls = "--tls", ca = "--ca", cert = "--cert", key = "--key", insecure = "--insecure"

    init?(spelling: String) {
        switch spelling {
        case "-h": self = .help
        case "-v": self = .verbose
        default: self.init(rawValue: spelling)
        }
    }

    var takesValue: Bool {
        switch self {
        case .host, .port, .server, .timeout, .token, .count, .pubs, .subs, .msgs, .size, .topic, .interval, .limit,
             .protocolVersion, .from, .last, .group, .file, .http, .user, .ca, .cert, .key: true
        case .help, .version, .verbose, .json, .noReconnect, .watch, .seq, .binary, .tls, .insecure: false
        }
    }

    /// The subcommands that accept this option; nil means every one (connection and help options).
    var accepted: Set<Subcommand>? {
        switch self {
        case .help, .version, .host, .port, .server, .timeout, .token, .user, .tls, .ca, .cert, .key, .insecure: nil
        case .verbose: [.pub, .sub]
        case .json: [.sub, .bench, .stats]
        case .count: [.sub, .stats, .top]
        case .noReconnect: [.sub]
        case .pubs, .subs, .msgs, .size, .topic: [.bench]
        case .watch: [.stats]
        case .interval: [.stats, .top]
        case .limit, .http: [.top]
        case .protocolVersion: [.sub, .bench]
        case .from, .last, .group, .seq: [.sub]
        case .file, .binary: [.pub]
        }
    }
}

/// `host:port[,host:port...]` (each as ``Endpoint/init(parsing:)`` reads it), at least one; nil when malformed.
func parseEndpointList(_ text: String) -> [Endpoint]? {
    let endpoints = text.split(separator: ",", omittingEmptySubsequences: false).map { Endpoint(parsing: String($0)) }
    guard !endpoints.isEmpty, endpoints.allSatisfy({ $0 != nil }) else { return nil }
    return endpoints.compactMap { $0 }
}

/// Parses the arguments (without the program name) and the environment.
func parseArguments(_ arguments: [String], environment: [String: String]) throws(UsageError) -> ParseOutcome {
    var subcommand: Subcommand?
    var positionals: [String] = []
    var seen: [(Option, String, String?)] = []   // option, spelling, value
    var index = 0
    var optionsEnded = false
    while index < arguments.count {
        let argument = arguments[index]
        index += 1
        if optionsEnded || argument == "-" || !argument.hasPrefix("-") {
            if subcommand == nil {
                guard let known = Subcommand(rawValue: argument) else {
                    throw UsageError(message: "unknown subcommand '\(argument)'")
                }
                subcommand = known
            } else {
                positionals.append(argument)
            }
            continue
        }
        if argument == "--" {
            optionsEnded = true
            continue
        }
        var spelling = argument
        var inlineValue: String?
        if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
            spelling = String(argument[..<equals])
            inlineValue = String(argument[argument.index(after: equals)...])
        }
        guard let option = Option(spelling: spelling) else {
            throw UsageError(message: "unknown option '\(spelling)'", subcommand: subcommand ?? laterSubcommand(arguments, from: index))
        }
        var value: String?
        if option.takesValue {
            if let inlineValue {
                value = inlineValue
            } else if index < arguments.count {
                value = arguments[index]
                index += 1
            } else {
                throw UsageError(message: "option '\(spelling)' needs a value", subcommand: subcommand)
            }
        } else if inlineValue != nil {
            throw UsageError(message: "option '\(spelling)' takes no value", subcommand: subcommand)
        }
        seen.append((option, spelling, value))
    }

    if seen.contains(where: { $0.0 == .help }) {
        if subcommand == .help { return .help(try helpTopic(positionals)) }
        return .help(subcommand)
    }
    if seen.contains(where: { $0.0 == .version }) { return .version }
    guard let subcommand else { throw UsageError(message: "missing subcommand") }
    if subcommand == .help { return .help(try helpTopic(positionals)) }

    var invocation = Invocation(subcommand: subcommand)
    if let address = environment["BROKER_ADDR"], !address.isEmpty {
        guard let endpoints = parseEndpointList(address) else {
            throw UsageError(message: "invalid BROKER_ADDR '\(address)' (expected host:port, [ipv6]:port, tls://host:port or ws[s]://host:port/path, or several separated by commas)",
                             subcommand: subcommand)
        }
        invocation.endpoint = endpoints[0]
        invocation.alternates = Array(endpoints.dropFirst())
    }
    if seen.contains(where: { $0.0 == .server }) && seen.contains(where: { $0.0 == .host || $0.0 == .port }) {
        throw UsageError(message: "give --server or --host/--port, not both", subcommand: subcommand)
    }
    if let token = environment["BROKER_TOKEN"], !token.isEmpty {
        guard isValidToken(token) else {
            throw UsageError(message: "invalid BROKER_TOKEN (one word of printable characters expected; the value is not shown)", subcommand: subcommand)
        }
        invocation.token = token
    }
    if let user = environment["BROKER_USER"], !user.isEmpty {
        guard isValidToken(user) else {
            throw UsageError(message: "invalid BROKER_USER '\(user)' (one word of printable characters expected)", subcommand: subcommand)
        }
        invocation.user = user
    }
    var tls: TLSClientOptions?
    for (option, spelling, value) in seen {
        if let accepted = option.accepted, !accepted.contains(subcommand) {
            throw UsageError(message: "unknown option '\(spelling)'", subcommand: subcommand)
        }
        let text = value ?? ""
        func invalid(_ what: String) -> UsageError {
            UsageError(message: "invalid \(what) '\(text)'", subcommand: subcommand)
        }
        func number(_ what: String, atLeast minimum: Int) throws(UsageError) -> Int {
            guard let parsed = Int(text), parsed >= minimum else { throw invalid(what) }
            return parsed
        }
        switch option {
        case .help, .version: break
        case .host:
            guard !text.isEmpty else { throw invalid("host") }
            invocation.endpoint.host = text.hasPrefix("[") && text.hasSuffix("]") ? String(text.dropFirst().dropLast()) : text
        case .port:
            guard let port = Endpoint.parsePort(text) else { throw invalid("port") }
            invocation.endpoint.port = port
        case .server:
            guard let endpoints = parseEndpointList(text) else { throw invalid("server list") }
            invocation.endpoint = endpoints[0]
            invocation.alternates = Array(endpoints.dropFirst())
        case .timeout:
            guard let seconds = Double(text), seconds > 0, seconds <= 86_400 else { throw invalid("timeout") }
            invocation.timeout = .milliseconds(Int64((seconds * 1000).rounded(.up)))
        case .token:
            guard isValidToken(text) else {
                throw UsageError(message: "invalid token (one word of printable characters expected; the value is not shown)", subcommand: subcommand)
            }
            invocation.token = text
        case .user:
            guard isValidToken(text) else { throw invalid("user") }
            invocation.user = text
        case .tls: tls = tls ?? TLSClientOptions()
        case .ca:
            guard !text.isEmpty else { throw invalid("CA file") }
            tls = tls ?? TLSClientOptions()
            tls?.caFile = text
        case .cert:
            guard !text.isEmpty else { throw invalid("certificate file") }
            tls = tls ?? TLSClientOptions()
            tls?.certificateFile = text
        case .key:
            guard !text.isEmpty else { throw invalid("key file") }
            tls = tls ?? TLSClientOptions()
            tls?.keyFile = text
        case .insecure:
            tls = tls ?? TLSClientOptions()
            tls?.verify = false
        case .watch: invocation.watch = true
        case .interval:
            guard let seconds = Double(text), seconds >= 0.01, seconds <= 86_400 else { throw invalid("interval") }
            invocation.interval = .milliseconds(Int64((seconds * 1000).rounded()))
        case .limit: invocation.limit = try number("limit", atLeast: 1)
        case .verbose: invocation.verbose = true
        case .json: invocation.json = true
        case .noReconnect: invocation.reconnect = false
        case .count: invocation.count = try number("count", atLeast: 1)
        case .pubs: invocation.pubs = try number("number of publishers", atLeast: 1)
        case .subs: invocation.subs = try number("number of subscribers", atLeast: 0)
        case .msgs: invocation.msgs = try number("number of messages", atLeast: 1)
        case .size:
            guard let size = Int(text), size >= BenchPayload.minimumSize, size <= 65_000 else {
                throw UsageError(message: "invalid size '\(text)' (\(BenchPayload.minimumSize) to 65000 bytes: the payload carries a timestamp)", subcommand: subcommand)
            }
            invocation.size = size
        case .topic:
            guard !text.isEmpty else { throw invalid("topic") }
            invocation.topic = text
        case .protocolVersion:
            guard let number = Int(text), let version = ProtocolVersion(rawValue: number) else {
                throw UsageError(message: "invalid protocol version '\(text)' (1 or 2)", subcommand: subcommand)
            }
            invocation.protocolVersion = version
        case .from:
            guard let position = StreamPosition(parsing: Array(text.utf8)) else {
                throw UsageError(message: "invalid position '\(text)' (EPOCH:SEQ, as in 'k3x9:12')", subcommand: subcommand)
            }
            invocation.from = position
        case .last:
            guard let count = UInt64(text), count >= 1 else { throw invalid("count for --last") }
            invocation.last = count
        case .group:
            guard Names.isValidGroupName(text.utf8) else {
                throw UsageError(message: "invalid group name '\(text)' (1 to 64 of A-Z a-z 0-9 _ -)", subcommand: subcommand)
            }
            invocation.group = text
        case .seq: invocation.showSeq = true
        case .file:
            guard !text.isEmpty else { throw invalid("file") }
            invocation.file = text
        case .binary: invocation.binary = true
        case .http:
            guard let endpoint = Endpoint(parsing: text), endpoint.webSocketPath == nil else {
                throw UsageError(message: "invalid HTTP address '\(text)' (expected host:port or [ipv6]:port)", subcommand: subcommand)
            }
            invocation.http = endpoint
        }
    }
    if let tls {
        // --tls, --ca, --cert, --key and --insecure apply to every broker given.
        if (tls.certificateFile == nil) != (tls.keyFile == nil) {
            throw UsageError(message: "--cert and --key go together", subcommand: subcommand)
        }
        invocation.endpoint.tls = tls
        for index in invocation.alternates.indices { invocation.alternates[index].tls = tls }
    }
    if invocation.user != nil && invocation.token == nil {
        throw UsageError(message: "--user needs a token (--token or BROKER_TOKEN)", subcommand: subcommand)
    }
    invocation.arguments = positionals
    try checkArguments(invocation, given: Set(seen.map(\.0.rawValue)))
    return .run(invocation)
}

/// The subcommand named after position `from`, for the hint of an early unknown option.
private func laterSubcommand(_ arguments: [String], from: Int) -> Subcommand? {
    arguments[from...].lazy.compactMap { Subcommand(rawValue: $0) }.first
}

/// `help [<subcommand>]`.
private func helpTopic(_ positionals: [String]) throws(UsageError) -> Subcommand? {
    guard let name = positionals.first else { return nil }
    guard positionals.count == 1, let topic = Subcommand(rawValue: name) else {
        throw UsageError(message: "unknown subcommand '\(name)'")
    }
    return topic == .help ? nil : topic
}

/// sub's version 2 options: `--from`/`--last` take one concrete topic, and none goes with `--protocol 1`.
private func checkSubVersion2(_ invocation: Invocation) throws(UsageError) {
    if invocation.from != nil && invocation.last != nil {
        throw UsageError(message: "--from and --last exclude each other", subcommand: .sub)
    }
    if invocation.from != nil || invocation.last != nil {
        let option = invocation.from != nil ? "--from" : "--last"
        let arguments = invocation.arguments
        if arguments.count != 1 || Array(arguments[0].utf8).withUnsafeBytes({ Names.hasWildcard($0) }) {
            throw UsageError(message: "\(option) needs exactly one topic, not a pattern", subcommand: .sub)
        }
    }
    if invocation.protocolVersion == .v1 {
        let v2Only: [(Bool, String)] = [(invocation.from != nil, "--from"), (invocation.last != nil, "--last"),
                                        (invocation.group != nil, "--group"), (invocation.showSeq, "--seq")]
        if let (_, option) = v2Only.first(where: { $0.0 }) {
            throw UsageError(message: "\(option) needs protocol version 2", subcommand: .sub)
        }
    }
}

/// True for a token `AUTH` can carry: non-empty, printable ASCII without spaces.
private func isValidToken(_ token: String) -> Bool {
    !token.isEmpty && token.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
}

/// The positional arguments each subcommand needs, and options that only make sense together.
private func checkArguments(_ invocation: Invocation, given: Set<String>) throws(UsageError) {
    let arguments = invocation.arguments
    let subcommand = invocation.subcommand
    switch subcommand {
    case .pub:
        if arguments.isEmpty { throw UsageError(message: "pub needs a topic", subcommand: .pub) }
        if invocation.file != nil && invocation.binary {
            throw UsageError(message: "--file and --binary exclude each other", subcommand: .pub)
        }
        if invocation.file != nil || invocation.binary, arguments.count > 1 {
            let option = invocation.binary ? "--binary" : "--file"
            throw UsageError(message: "\(option) publishes one message and takes no message words", subcommand: .pub)
        }
    case .sub:
        if arguments.isEmpty { throw UsageError(message: "sub needs at least one topic or pattern", subcommand: .sub) }
        try checkSubVersion2(invocation)
    case .stats:
        if arguments.count > 1 {
            throw UsageError(message: "unexpected argument '\(arguments[1])'", subcommand: .stats)
        }
        if !invocation.watch, let option = [Option.count, .interval].first(where: { given.contains($0.rawValue) }) {
            throw UsageError(message: "option '\(option.rawValue)' needs --watch", subcommand: .stats)
        }
        if invocation.watch && !arguments.isEmpty {
            throw UsageError(message: "--watch shows the broker's figures, not a topic's", subcommand: .stats)
        }
    case .ping, .bench, .top:
        if let extra = arguments.first {
            throw UsageError(message: "unexpected argument '\(extra)'", subcommand: subcommand)
        }
    case .help: break
    }
}
