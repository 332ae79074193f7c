// The Prometheus text exposition format (version 0.0.4) of a snapshot of the broker's figures; no I/O.

/// The broker's figures at one moment: what `STATS` reports, plus per-topic
/// figures for a bounded set of topics. A value; any thread.
struct MetricsSnapshot: Sendable, Equatable {
    /// One topic's series (the figures of `STATS <topic>`). A value; any thread.
    struct TopicSample: Sendable, Equatable {
        /// The topic name (printable ASCII; escaped when written as a label).
        var name: String
        var subscribers: Int
        var held: Int
        var published: UInt64
        var lagging: Int
        var maxLag: Int
        /// The stream's head (its last message's sequence).
        var head: UInt64 = 0
        /// What the held messages weigh.
        var heldBytes: Int = 0
    }

    var uptimeSeconds: Int64 = 0
    var connections: Int = 0
    var topics: Int = 0
    var subscriptions: UInt64 = 0
    var published: UInt64 = 0
    var delivered: UInt64 = 0
    var laggedEvents: UInt64 = 0
    var laggedMessages: UInt64 = 0
    var bytesIn: UInt64 = 0
    var bytesOut: UInt64 = 0
    /// What every topic's held messages weigh together (`max_held_bytes` bounds it).
    var heldBytes: Int = 0
    var version: String = BrokerVersion.current
    /// The topics with the most subscribers or lag, already capped.
    var topicSamples: [TopicSample] = []
}

/// Writes a ``MetricsSnapshot`` in the Prometheus text format 0.0.4: every
/// family has one `# HELP` and one `# TYPE` line followed by its samples;
/// counters end in `_total`; label values are escaped (`\\`, `\"`, `\n`).
/// The output ends with a LF. A pure function; any thread.
enum MetricsExposition {
    static func render(_ snapshot: MetricsSnapshot) -> String {
        var out = ""
        family(&out, "broker_info", .gauge, "Broker build information; the value is always 1.",
               [(labels(["version": snapshot.version]), "1")])
        family(&out, "broker_uptime_seconds", .gauge, "Seconds since the broker started.", [("", "\(snapshot.uptimeSeconds)")])
        family(&out, "broker_connections", .gauge, "Open client connections.", [("", "\(snapshot.connections)")])
        family(&out, "broker_topics", .gauge, "Topics that exist now.", [("", "\(snapshot.topics)")])
        family(&out, "broker_subscriptions", .gauge, "Subscriptions held by all connections.", [("", "\(snapshot.subscriptions)")])
        family(&out, "broker_published_total", .counter, "PUB commands executed.", [("", "\(snapshot.published)")])
        family(&out, "broker_delivered_total", .counter, "MSG frames queued to subscribers.", [("", "\(snapshot.delivered)")])
        family(&out, "broker_lagged_events_total", .counter, "LAGGED frames sent to subscribers.", [("", "\(snapshot.laggedEvents)")])
        family(&out, "broker_lagged_messages_total", .counter, "Messages dropped for lagging subscribers (the sum of LAGGED counts).",
               [("", "\(snapshot.laggedMessages)")])
        family(&out, "broker_bytes_in_total", .counter, "Bytes read from client connections.", [("", "\(snapshot.bytesIn)")])
        family(&out, "broker_bytes_out_total", .counter, "Bytes written to client connections.", [("", "\(snapshot.bytesOut)")])
        family(&out, "broker_held_bytes", .gauge, "What the messages all topics hold weigh (frame bytes plus 48 each).",
               [("", "\(snapshot.heldBytes)")])

        let topics = snapshot.topicSamples
        func perTopic(_ value: (MetricsSnapshot.TopicSample) -> String) -> [(String, String)] {
            topics.map { (labels(["topic": $0.name]), value($0)) }
        }
        family(&out, "broker_topic_subscribers", .gauge, "Subscribers of the topic (top topics only).", perTopic { "\($0.subscribers)" })
        family(&out, "broker_topic_held", .gauge, "Messages the topic's stream holds.", perTopic { "\($0.held)" })
        family(&out, "broker_topic_held_bytes", .gauge, "What the messages the topic holds weigh.", perTopic { "\($0.heldBytes)" })
        family(&out, "broker_topic_head", .gauge, "The sequence of the topic's last message in its current stream.",
               perTopic { "\($0.head)" })
        family(&out, "broker_topic_published_total", .counter, "Messages published to the topic.", perTopic { "\($0.published)" })
        family(&out, "broker_topic_lagging", .gauge, "Subscribers of the topic with unread messages.", perTopic { "\($0.lagging)" })
        family(&out, "broker_topic_max_lag", .gauge, "The largest number of unread messages of one subscriber of the topic.",
               perTopic { "\($0.maxLag)" })
        return out
    }

    /// A label value escaped as the format requires: backslash, double quote and line feed.
    static func escapeLabelValue(_ value: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(value.utf8.count)
        for character in value.unicodeScalars {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }

    private enum Kind: String {
        case counter, gauge
    }

    private static func labels(_ pairs: KeyValuePairs<String, String>) -> String {
        "{" + pairs.map { "\($0.key)=\"\(escapeLabelValue($0.value))\"" }.joined(separator: ",") + "}"
    }

    private static func family(_ out: inout String, _ name: String, _ kind: Kind, _ help: String, _ samples: [(labels: String, value: String)]) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) \(kind.rawValue)\n"
        for sample in samples { out += "\(name)\(sample.labels) \(sample.value)\n" }
    }
}

extension ServerContext {
    /// The figures of `STATS` and the busiest `topTopics` topics, now. Any thread.
    func metricsSnapshot(topTopics: Int) -> MetricsSnapshot {
        var snapshot = MetricsSnapshot()
        snapshot.uptimeSeconds = (monotonicMilliseconds() - startedAtMs) / 1000
        snapshot.connections = connectionCount.load(ordering: .relaxed)
        snapshot.topics = store.count
        snapshot.subscriptions = stats.subscriptions.load
        snapshot.published = stats.published.load
        snapshot.delivered = stats.delivered.load
        snapshot.laggedEvents = stats.laggedEvents.load
        snapshot.laggedMessages = stats.laggedMessages.load
        snapshot.bytesIn = stats.bytesIn.load
        snapshot.bytesOut = stats.bytesOut.load
        snapshot.heldBytes = store.heldBytes.bytes
        snapshot.topicSamples = store.busiestTopics(limit: topTopics).prefix(max(0, topTopics)).map { entry in
            MetricsSnapshot.TopicSample(name: String(decoding: entry.name, as: UTF8.self), subscribers: entry.figures.subscribers,
                                        held: entry.figures.held, published: entry.figures.published,
                                        lagging: entry.figures.lagging, maxLag: entry.figures.maxLag,
                                        head: entry.figures.head, heldBytes: entry.figures.heldBytes)
        }
        return snapshot
    }
}
