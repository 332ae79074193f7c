// What every event loop of one server shares: topics, logger, counters, the loops themselves.
import Glibc
import Synchronization

/// State shared by the event loops of one server. Any thread.
final class ServerContext: Sendable {
    /// Every topic and subscription.
    let store: LocalTopicStore
    /// Where log lines go.
    let logger: Logger
    /// Open client connections, across loops.
    let connectionCount = Atomic<Int>(0)
    /// The next connection id (ids start at 1 and are never reused).
    let nextConnectionID = Atomic<UInt64>(1)
    /// Counters for operators.
    let stats = ServerStats()
    /// Whether the engine that orders publishes can be reached (always true for `engine local`;
    /// with Redis, false until connected and while the connection is lost). For `/healthz`.
    let engineReachable: Atomic<Bool>

    /// When the server was created (monotonic ms), for `uptime_s`.
    let startedAtMs = monotonicMilliseconds()

    /// The `STATS` reply's text: `uptime_s=... version=...`.
    func statisticsLine() -> String {
        let uptime = (monotonicMilliseconds() - startedAtMs) / 1000
        return "uptime_s=\(uptime) connections=\(connectionCount.load(ordering: .relaxed)) topics=\(store.count)"
            + " subscriptions=\(stats.subscriptions.load) published_total=\(stats.published.load)"
            + " delivered_total=\(stats.delivered.load) lagged_events_total=\(stats.laggedEvents.load)"
            + " lagged_messages_total=\(stats.laggedMessages.load) bytes_in_total=\(stats.bytesIn.load)"
            + " bytes_out_total=\(stats.bytesOut.load) version=\(BrokerVersion.current)"
    }

    init(settings: LiveSettings, logger: Logger, engineReachable: Bool = true) {
        self.engineReachable = Atomic(engineReachable)
        // Epochs begin with 64 random bits, so a restarted broker's streams get new ones.
        store = LocalTopicStore(settings: settings.topicStore, epochSeed: UInt64.random(in: .min ... .max))
        self.logger = logger
    }
}

/// Wall-clock milliseconds since 1970 (for times shown to people).
func unixMilliseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}

/// Monotonic milliseconds (for timeouts; never goes backwards).
func monotonicMilliseconds() -> Int64 {
    monotonicNanoseconds() / 1_000_000
}

/// Monotonic nanoseconds (for the idle poll; never goes backwards).
func monotonicNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// Server-wide counters; relaxed atomics, added to in batches by the loops.
final class ServerStats: Sendable {
    let published = RelaxedCounter()
    let delivered = RelaxedCounter()
    let laggedEvents = RelaxedCounter()
    let laggedMessages = RelaxedCounter()
    let bytesIn = RelaxedCounter()
    let bytesOut = RelaxedCounter()
    let subscriptions = RelaxedCounter()
    /// Input polls made between flushes of a long flush phase (not reported; for tests).
    let inputPollsDuringFlush = RelaxedCounter()
    /// Turns whose deliveries waited for the next turn (``DeliveryScheduler/coalesces(publishes:receivers:sessions:)``;
    /// not reported; for tests).
    let coalescedTurns = RelaxedCounter()
}
