// The broker's own topics under `$SYS.`, which it publishes itself.
import Protocol

/// Names of the topics the broker publishes; clients subscribe to them by
/// naming `$SYS` explicitly (`SUB $SYS.>`), and may not publish to them.
enum SystemTopics {
    /// One event per lag: `topic=<t> client=<id> addr=<ip:port> missed=<n>`.
    static let lagged: [UInt8] = Array(SystemTopicName.lagged.utf8)
    /// The `STATS` line, every `stats_interval_ms`.
    static let stats: [UInt8] = Array(SystemTopicName.stats.utf8)
}
