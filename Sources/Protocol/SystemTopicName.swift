// The names of the topics the broker publishes itself (docs/protocol.md, "Broker topics").

/// The broker's own topics, an extension of the protocol.
///
/// Guarantees: each name is a valid concrete topic whose first level is ``root``,
/// so it is reserved (`Names.isReserved`): a client reads it only by naming `$SYS`
/// (`SUB $SYS.>`), and a client `PUB` to it is refused with `reserved-topic`.
/// `ProtocolTests` pin the spellings.
public enum SystemTopicName {
    /// `$SYS`: the first level of every broker topic.
    public static let root = "$SYS"
    /// One message per `LAGGED` frame on a non-`$` topic:
    /// `topic=<t> client=<id> addr=<ip:port> missed=<n>`.
    public static let lagged = "$SYS.lagged"
    /// The `STATS` line without `OK`, every `stats_interval_ms`.
    public static let stats = "$SYS.stats"
}
