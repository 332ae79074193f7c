// The broker's own topics under `$SYS.`, which it publishes itself.
import Channels
import Protocol

/// Names of the topics the broker publishes; clients subscribe to them by
/// naming `$SYS` explicitly (`SUB $SYS.>`), and may not publish to them.
enum SystemTopics {
    /// One event per lag: `topic=<t> client=<id> addr=<ip:port> missed=<n>`.
    static let lagged: [UInt8] = Array("$SYS.lagged".utf8)
    /// The `STATS` line, every `stats_interval_ms`.
    static let stats: [UInt8] = Array("$SYS.stats".utf8)
}

extension EventLoop {
    /// Publishes a broker event; a no-op when nobody subscribes to the topic.
    func publishSystemEvent(_ topic: [UInt8], _ payload: String) {
        let found: Topic?
        do {
            found = try topic.withUnsafeBytes { name throws(RegistryError) in try context.registry.topicForPublish(name) }
        } catch {
            return  // the topic limit is reached: broker events are dropped, clients are not refused for them
        }
        guard let found else { return }
        let bytes = Array(payload.utf8)
        let message = topic.withUnsafeBytes { name in bytes.withUnsafeBytes { Message.make(topic: name, payload: $0) } }
        _ = found.sender.send(message)
        found.published.add(1)
    }

    /// Loop 0 publishes `$SYS.stats` every `stats_interval_ms`.
    func publishStatisticsIfDue(now: Int64) {
        guard index == 0, settings.statsIntervalMs > 0 else { return }
        if now < nextStatisticsAtMs { return }
        if nextStatisticsAtMs != 0 { publishSystemEvent(SystemTopics.stats, context.statisticsLine()) }
        nextStatisticsAtMs = now + Int64(settings.statsIntervalMs)
    }
}
