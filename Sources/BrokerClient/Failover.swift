// Several brokers for one client: the first that can be reached is used, and a dropped connection moves on to the next.

extension BrokerConnection {
    /// Connects to the first of `endpoints` that can be reached, trying each once, in order
    /// from index `start` (wrapping around), as ``init(to:timeout:token:user:version:)`` does for one.
    /// A broker that cannot be reached (``BrokerClientError/isUnreachable``) passes the turn
    /// to the next; any other failure (a refused token, a refused `HELLO`) is thrown at once.
    /// Throws the last broker's failure when none can be reached.
    ///
    /// To fail over after a connection drops, take its ``resumeState()``, connect from the
    /// index after its ``endpoint``, and ``resume(_:)`` on the new connection: each concrete
    /// topic carries on after its last message, or reports `positionLost` when the new broker's
    /// stream is another one.
    public static func connect(toFirstOf endpoints: [Endpoint], from start: Int = 0, timeout: Duration = .seconds(5),
                               token: String? = nil, user: String? = nil,
                               version: ProtocolVersion = .v1) throws(BrokerClientError) -> BrokerConnection {
        var failure = BrokerClientError.cannotConnect(address: "(no broker given)", reason: "the list of brokers is empty")
        for step in 0..<endpoints.count {
            let endpoint = endpoints[(max(0, start) + step) % endpoints.count]
            do {
                return try BrokerConnection(to: endpoint, timeout: timeout, token: token, user: user, version: version)
            } catch let error where error.isUnreachable {
                failure = error
            }
        }
        throw failure
    }
}

extension BrokerClientError {
    /// True when the broker could not be reached at all (another one may be): its name did
    /// not resolve, nothing accepted the connection in time, or it closed at once.
    public var isUnreachable: Bool {
        switch self {
        case .cannotResolve, .cannotConnect, .timedOut, .closed: true
        case .system, .bye, .refused, .protocolViolation, .authenticationFailed, .invalidToken: false
        }
    }
}
