// The settings an event loop reads while it runs; replaced as a whole on reload.

/// The configuration values that apply without a restart, as one value that the
/// server hands to every event loop when it changes.
public struct LiveSettings: Sendable, Equatable {
    public var capacity: Int
    public var maxConnections: Int
    public var maxSubscriptionsPerConnection: Int
    public var maxTopics: Int
    public var maxLineBytes: Int
    public var idleTimeoutMs: Int
    public var shutdownGraceMs: Int
    public var tcpKeepaliveS: Int
    public var idlePollUs: Int
    public var logLevel: LogLevel
    public var statsIntervalMs: Int
    public var metricsTopTopics: Int
    /// The token clients must send with AUTH; nil = authentication off.
    public var authToken: [UInt8]?

    public init(_ config: BrokerConfig, authToken: String?) {
        self.authToken = authToken.map { Array($0.utf8) }
        capacity = config.capacity
        maxConnections = config.maxConnections
        maxSubscriptionsPerConnection = config.maxSubscriptionsPerConnection
        maxTopics = config.maxTopics
        maxLineBytes = config.maxLineBytes
        idleTimeoutMs = config.idleTimeoutMs
        shutdownGraceMs = config.shutdownGraceMs
        tcpKeepaliveS = config.tcpKeepaliveS
        idlePollUs = config.idlePollUs
        logLevel = config.logLevel
        statsIntervalMs = config.statsIntervalMs
        metricsTopTopics = config.metricsTopTopics
    }
}
