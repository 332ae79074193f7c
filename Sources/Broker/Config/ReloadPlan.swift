/// What changed between two configurations, split by how it can be applied.
///
/// Guarantees: `liveKeys` and `restartKeys` together are exactly the keys
/// whose values differ, each in `ConfigKey.all` order, with no key in both;
/// a key is in `liveKeys` iff its `ApplyPath` is not `.restart`.
public struct ReloadPlan: Sendable, Equatable {
    /// Changed keys the running daemon applies now.
    public let liveKeys: [String]
    /// Changed keys that only take effect after a restart.
    public let restartKeys: [String]

    public init(liveKeys: [String], restartKeys: [String]) {
        self.liveKeys = liveKeys
        self.restartKeys = restartKeys
    }

    /// True when nothing changed.
    public var isEmpty: Bool { liveKeys.isEmpty && restartKeys.isEmpty }

    /// The log line for a successful reload: `configuration reloaded`,
    /// followed by ` (no changes)` or e.g.
    /// ` (changed: log_level, capacity; needs restart: port)`.
    public var logLine: String {
        var parts: [String] = []
        if !liveKeys.isEmpty { parts.append("changed: " + liveKeys.joined(separator: ", ")) }
        if !restartKeys.isEmpty { parts.append("needs restart: " + restartKeys.joined(separator: ", ")) }
        return ReloadLog.reloaded + " (" + (parts.isEmpty ? "no changes" : parts.joined(separator: "; ")) + ")"
    }
}

/// The fixed prefixes of the reload log lines, for the daemon and for tests
/// and log scrapers that look for them.
public enum ReloadLog {
    /// Start of the line logged after a successful reload.
    public static let reloaded = "configuration reloaded"
    /// Start of the line logged when a reload is refused; the
    /// `ConfigError` description follows, e.g.
    /// `reload rejected: conf/broker.conf:12: port: expected an integer from 0 to 65535, got 'x'`.
    public static let rejectedPrefix = "reload rejected: "

    public static func rejected(_ error: ConfigError) -> String {
        rejectedPrefix + error.description
    }
}

extension BrokerConfig {
    /// Which keys differ between `old` and `new`, split into live and restart.
    public static func reloadPlan(from old: BrokerConfig, to new: BrokerConfig) -> ReloadPlan {
        var live: [String] = []
        var restart: [String] = []
        for key in ConfigKey.all where !key.isSame(in: old, and: new) {
            if key.applyPath.reloadsLive {
                live.append(key.name)
            } else {
                restart.append(key.name)
            }
        }
        return ReloadPlan(liveKeys: live, restartKeys: restart)
    }
}
