// How a reload (SIGHUP) brings a configuration key's new value into the running daemon.

/// How the running daemon takes a new value of one configuration key: after a
/// restart, or on reload and then by which path.
///
/// Guarantees: every key of `ConfigKey.all` declares exactly one, and the rest
/// reads it from there: the reload plan (a `.restart` key keeps its running value
/// and is logged under "needs restart", every other key takes its new value and is
/// logged under "changed"), `--help` and `conf/broker.conf` ("reloads live: yes/no",
/// ``reloadsLive``), and the docs check (the "Reloads live" column of
/// docs/configuration.md is ``summary``). A case other than `.restart` names where
/// the value goes, and `ApplyPathTests` checks, key by key, that a changed value
/// arrives there and nowhere else, so a key cannot be marked live without a path.
public enum ApplyPath: Sendable, Equatable {
    /// Read once, at start. A reload keeps the running value.
    case restart
    /// Carried in this `LiveSettings` field, which `BrokerServer.apply(_:)` hands to
    /// the event loops and to the reader the field names; applies at once, to open
    /// connections and existing topics too.
    case live(LiveSettings.Field)
    /// Carried in this `LiveSettings` field and read when a topic is created:
    /// topics that exist keep the value they were created with.
    case liveForNewTopics(LiveSettings.Field)
    /// Carried in this `LiveSettings` field and read when a connection is accepted:
    /// open connections keep what they were accepted with.
    case liveForNewConnections(LiveSettings.Field)
    /// Not carried in `LiveSettings`: the daemon keeps the reloaded `BrokerConfig`
    /// (the reload outcome) and passes this value to `BrokerServer.shutdown(graceMs:)`
    /// when a shutdown signal comes.
    case atShutdown

    /// Whether a reload applies a change without a restart.
    public var reloadsLive: Bool { self != .restart }

    /// The `LiveSettings` field the value travels in, if it travels in one.
    public var liveField: LiveSettings.Field? {
        switch self {
        case let .live(field), let .liveForNewTopics(field), let .liveForNewConnections(field): field
        case .restart, .atShutdown: nil
        }
    }

    /// The "Reloads live" cell of docs/configuration.md: `no`, `yes`,
    /// `yes (topics created afterwards)` or `yes (new connections)`.
    public var summary: String {
        switch self {
        case .restart: "no"
        case .live, .atShutdown: "yes"
        case .liveForNewTopics: "yes (topics created afterwards)"
        case .liveForNewConnections: "yes (new connections)"
        }
    }
}
