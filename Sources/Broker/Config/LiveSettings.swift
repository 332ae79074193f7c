// The settings an event loop reads while it runs; replaced as a whole on reload.
// The fuzz build compiles this directory alone, with a stand-in for TLSContext (Fuzz/Config).
#if canImport(TLS)
import TLS
#endif

/// The configuration values that apply without a restart, as one value that the
/// server hands to every event loop when it changes.
///
/// Guarantees: it holds one stored property per ``Field``, and every configuration
/// key whose `ApplyPath` names a field lands in that field and in no other
/// (`ApplyPathTests` checks both, key by key). Built by the server at start and at
/// each reload (`BrokerServer.apply(_:)`); a plain value, any thread.
public struct LiveSettings: Sendable, Equatable {
    public var capacity: Int
    public var maxRingBytes: Int
    public var maxHeldBytes: Int
    public var lingerMs: Int
    public var maxPayloadBytes: Int
    public var maxConnections: Int
    public var maxSubscriptionsPerConnection: Int
    public var maxTopics: Int
    public var maxLineBytes: Int
    public var idleTimeoutMs: Int
    public var tcpKeepaliveS: Int
    public var idlePollUs: Int
    public var logLevel: LogLevel
    public var statsIntervalMs: Int
    public var metricsTopTopics: Int
    /// The token clients must send with AUTH; nil = authentication off.
    public var authToken: [UInt8]?
    /// The TLS listeners' files and the context loaded from them.
    public var tls: TLSSettings
    /// How long a TLS client has to complete its handshake, in ms.
    public var tlsHandshakeTimeoutMs: Int
    /// The `acl_file` and the users read from it.
    public var access: AccessSettings

    /// The settings of `config`, with `authToken` as `AuthToken.resolve(config)` found it and
    /// `tlsContext` as `TLSSettings.load(config)` made it and `accessList` as
    /// `AccessListParser.load(config)` read it.
    public init(_ config: BrokerConfig, authToken: String?, tlsContext: TLSContext? = nil, accessList: AccessList? = nil) {
        access = AccessSettings(file: config.aclFile, list: accessList)
        self.authToken = authToken.map { Array($0.utf8) }
        tls = TLSSettings(config, context: tlsContext)
        tlsHandshakeTimeoutMs = config.tlsHandshakeTimeoutMs
        capacity = config.capacity
        maxRingBytes = config.maxRingBytes
        maxHeldBytes = config.maxHeldBytes
        lingerMs = config.lingerMs
        maxPayloadBytes = config.maxPayloadBytes
        maxConnections = config.maxConnections
        maxSubscriptionsPerConnection = config.maxSubscriptionsPerConnection
        maxTopics = config.maxTopics
        maxLineBytes = config.maxLineBytes
        idleTimeoutMs = config.idleTimeoutMs
        tcpKeepaliveS = config.tcpKeepaliveS
        idlePollUs = config.idlePollUs
        logLevel = config.logLevel
        statsIntervalMs = config.statsIntervalMs
        metricsTopTopics = config.metricsTopTopics
    }
}

extension LiveSettings {
    /// One stored property of ``LiveSettings``: where a live configuration key's value
    /// goes (`ApplyPath.live(_:)` and its variants name one).
    ///
    /// Guarantees: the cases are exactly the stored properties, spelled as the raw
    /// values (a test compares them with the properties a `Mirror` sees). Each case
    /// says who reads the field once `BrokerServer.apply(_:)` has handed it on.
    public enum Field: String, CaseIterable, Sendable {
        /// The topic registry, when it creates a topic (its ring size); the loops' flush pacing.
        case capacity
        /// The topic registry, when it creates a topic (its ring's byte bound).
        case maxRingBytes
        /// The topic registry, at each publish (the budget of all rings).
        case maxHeldBytes
        /// The topic registry's linger sweep and unsubscribes.
        case lingerMs
        /// The event loops, at each `BPUB`.
        case maxPayloadBytes
        /// The event loops, at each accept.
        case maxConnections
        /// The event loops, at each `SUB`.
        case maxSubscriptionsPerConnection
        /// The topic registry, when it creates a topic.
        case maxTopics
        /// The event loops: every connection's line framer, open ones included.
        case maxLineBytes
        /// The event loops' idle-connection timer.
        case idleTimeoutMs
        /// The event loops, at each accept (`SO_KEEPALIVE` on the new socket).
        case tcpKeepaliveS
        /// The event loops' idle-poll window.
        case idlePollUs
        /// The logger (`Logger.setLevel`).
        case logLevel
        /// Event loop 0, which publishes `$SYS.stats`.
        case statsIntervalMs
        /// The metrics server, at each scrape.
        case metricsTopTopics
        /// The event loops: at each accept (whether the connection must send `AUTH`) and at each `AUTH`.
        case authToken
        /// The event loops, at each TLS accept (the context a new connection is made with).
        case tls
        /// The event loops, at each TLS accept (the handshake's deadline).
        case tlsHandshakeTimeoutMs
        /// The event loops: at each accept and `AUTH`, at each `PUB`, `BPUB` and `SUB` of a
        /// logged-in user, and at once for open connections (their grants and subscriptions).
        case access
    }

    /// Whether `self` and `other` hold the same value in `field`.
    public func isSame(_ field: Field, as other: LiveSettings) -> Bool {
        switch field {
        case .capacity: capacity == other.capacity
        case .maxRingBytes: maxRingBytes == other.maxRingBytes
        case .maxHeldBytes: maxHeldBytes == other.maxHeldBytes
        case .lingerMs: lingerMs == other.lingerMs
        case .maxPayloadBytes: maxPayloadBytes == other.maxPayloadBytes
        case .maxConnections: maxConnections == other.maxConnections
        case .maxSubscriptionsPerConnection: maxSubscriptionsPerConnection == other.maxSubscriptionsPerConnection
        case .maxTopics: maxTopics == other.maxTopics
        case .maxLineBytes: maxLineBytes == other.maxLineBytes
        case .idleTimeoutMs: idleTimeoutMs == other.idleTimeoutMs
        case .tcpKeepaliveS: tcpKeepaliveS == other.tcpKeepaliveS
        case .idlePollUs: idlePollUs == other.idlePollUs
        case .logLevel: logLevel == other.logLevel
        case .statsIntervalMs: statsIntervalMs == other.statsIntervalMs
        case .metricsTopTopics: metricsTopTopics == other.metricsTopTopics
        case .authToken: authToken == other.authToken
        case .tls: tls == other.tls
        case .tlsHandshakeTimeoutMs: tlsHandshakeTimeoutMs == other.tlsHandshakeTimeoutMs
        case .access: access == other.access
        }
    }
}
