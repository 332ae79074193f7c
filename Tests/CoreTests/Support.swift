// Helpers for driving the in-memory broker.
@testable import Broker

/// A fresh in-memory broker with `configure` applied to its configuration.
func embedded(_ configure: (inout BrokerConfig) -> Void = { _ in }, authToken: String? = nil) -> EmbeddedBroker {
    var config = BrokerConfig()
    configure(&config)
    return EmbeddedBroker(config: config, authToken: authToken)
}

extension EmbeddedSession {
    /// Sends `lines` (each gets its LF) and returns every line written back.
    func exchange(_ lines: String...) -> [String] {
        send(lines.map { $0 + "\n" }.joined())
        return takeLines()
    }

    /// True once the session has closed.
    var isClosed: Bool { closeReason != nil }
}

/// Splits `LAGGED <topic> <n>` into its count, or nil for other lines.
func laggedCount(_ line: String) -> UInt64? {
    let parts = line.split(separator: " ")
    guard parts.count == 3, parts[0] == "LAGGED" else { return nil }
    return UInt64(parts[2])
}
