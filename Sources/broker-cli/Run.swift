// Dispatching a parsed invocation to its subcommand, connecting as it asks, and reading the environment.
import BrokerClient
import Protocol
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs the subcommand; returns the exit status.
func run(_ invocation: Invocation) -> Int32 {
    switch invocation.subcommand {
    case .pub: runPub(invocation)
    case .sub: runSub(invocation)
    case .ping: runPing(invocation)
    case .bench: runBench(invocation)
    case .stats: runStats(invocation)
    case .top: runTop(invocation)
    case .help:
        // parseArguments turns `help` into .help; kept total for the compiler.
        0
    }
}

/// Connects to the invocation's broker within its timeout, authenticates when it has a
/// token, and says `HELLO` for a version other than 1. With several brokers (`--server`,
/// BROKER_ADDR) they are tried in order from `start`, each once; a broker that cannot be
/// reached passes the turn to the next (``BrokerConnection/connect(toFirstOf:from:timeout:token:user:version:)``).
func connect(_ invocation: Invocation, version: ProtocolVersion = .v1, from start: Int = 0) throws(BrokerClientError) -> BrokerConnection {
    try BrokerConnection.connect(toFirstOf: invocation.endpoints, from: start, timeout: invocation.timeout,
                                 token: invocation.token, user: invocation.user, version: version)
}

/// What to print for a failure: the error's own text, with a hint when the broker wants a token.
func describe(_ error: BrokerClientError) -> String {
    if case let .refused(refusal) = error, refusal.code == .authRequired {
        return "authentication required: give --token or set BROKER_TOKEN"
    }
    return error.description
}

/// The process environment as a dictionary (last definition wins).
func currentEnvironment() -> [String: String] {
    var result: [String: String] = [:]
    var entry = environ
    while let pointer = entry.pointee {
        let text = String(cString: pointer)
        if let equals = text.firstIndex(of: "=") {
            result[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        entry += 1
    }
    return result
}
