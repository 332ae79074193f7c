/// The result of re-reading the configuration on SIGHUP.
///
/// Guarantees: `.applied` carries the configuration the running daemon should
/// now use: keys that reload live take their new values, keys whose `ApplyPath`
/// is `.restart` (`host`, `port`, `threads`, `metrics_port`) keep their current
/// values (the plan lists them under "needs restart"), and keys set on the
/// command line keep their flag values.
/// `.rejected` means nothing changes; the daemon keeps `current`.
public enum ReloadOutcome: Sendable, Equatable {
    case applied(config: BrokerConfig, plan: ReloadPlan)
    case rejected(ConfigError)

    /// The line to log: `configuration reloaded (...)` or
    /// `reload rejected: <file>:<line>: <key>: <why>`.
    public var logLine: String {
        switch self {
        case let .applied(_, plan): plan.logLine
        case let .rejected(error): ReloadLog.rejected(error)
        }
    }
}

extension BrokerConfig {
    /// Re-reads `configPath` (nil: built-in defaults), re-applies the
    /// command-line overrides `overriddenKeys` by taking their values from
    /// `current` (which holds the flag values since launch), and compares.
    ///
    /// - Parameters:
    ///   - current: the configuration the daemon runs with now.
    ///   - configPath: the file from `LaunchCommand.run`.
    ///   - overriddenKeys: the keys from `LaunchCommand.run`.
    public static func reload(
        current: BrokerConfig,
        configPath: String?,
        overriddenKeys: Set<String>,
        files: ConfigFileAccess = .live
    ) -> ReloadOutcome {
        var fromFile = BrokerConfig()
        if let configPath {
            do {
                fromFile = try ConfigLoader.load(path: configPath, files: files)
            } catch {
                return .rejected(error)
            }
        }
        // The `threads` default is computed once per process, so a file that
        // leaves `threads` unset does not show up as a change.
        let wanted = fromFile.overriding(overriddenKeys, from: current)
        let plan = reloadPlan(from: current, to: wanted)
        let restartOnly = Set(ConfigKey.all.filter { $0.applyPath == .restart }.map(\.name))
        let effective = wanted.overriding(restartOnly, from: current)
        return .applied(config: effective, plan: plan)
    }
}
