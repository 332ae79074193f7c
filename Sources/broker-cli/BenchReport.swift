// bench's results and how they are printed: a human report or one JSON object.
import BrokerClient

/// What one publisher did.
struct PublisherResult: Sendable {
    var sent = 0
    var refused = 0
    var seconds = 0.0
    var error: String?
}

/// What one subscriber saw.
struct SubscriberResult: Sendable {
    var received = 0
    var lagged: UInt64 = 0
    /// From the start of publishing to this subscriber's last message.
    var seconds = 0.0
    /// Latency of each message received, in nanoseconds.
    var latencies: [UInt64] = []
    var error: String?
}

/// The whole run.
struct BenchReport: Sendable {
    var pubs: Int
    var subs: Int
    var msgs: Int
    var size: Int
    var topic: String
    /// The version the subscribers spoke (publishers always speak version 1).
    var protocolVersion: ProtocolVersion = .v1
    var endpoint: String
    var publishers: [PublisherResult]
    var subscribers: [SubscriberResult]
    /// From the start of publishing to the last reply.
    var publishSeconds: Double

    var published: Int { publishers.reduce(0) { $0 + $1.sent } }
    var refused: Int { publishers.reduce(0) { $0 + $1.refused } }
    var received: Int { subscribers.reduce(0) { $0 + $1.received } }
    var lagged: UInt64 { subscribers.reduce(0) { $0 + $1.lagged } }
    var deliverySeconds: Double { subscribers.map(\.seconds).max() ?? 0 }
    var latency: Percentiles? { Percentiles(subscribers.flatMap(\.latencies)) }

    /// True when every subscriber accounted for every accepted message (received or lagged).
    var isComplete: Bool {
        let accepted = published - refused
        return subscribers.allSatisfy { $0.received + Int($0.lagged) == accepted && $0.error == nil }
            && publishers.allSatisfy { $0.error == nil }
    }

    /// The report for people.
    var text: String {
        var lines: [String] = []
        let bytes = Double(published * size)
        let version = protocolVersion == .v1 ? "" : " (subscribers in protocol \(protocolVersion))"
        lines.append("bench: \(pubs) pub, \(subs) sub, \(msgs) messages of \(size) bytes on '\(topic)' at \(endpoint)\(version)")
        lines.append("publish:   \(published) msgs in \(formatFixed(publishSeconds, decimals: 3)) s = \(grouped(rate(published, seconds: publishSeconds))) msgs/s, "
            + "\(formatFixed(publishSeconds > 0 ? bytes / publishSeconds / 1_000_000 : 0, decimals: 1)) MB/s, \(refused) refused")
        for (index, subscriber) in subscribers.enumerated() {
            lines.append("sub \(index + 1):\(String(repeating: " ", count: max(1, 6 - String(index + 1).count)))\(subscriber.received) received, \(subscriber.lagged) lagged, "
                + "\(grouped(rate(subscriber.received, seconds: subscriber.seconds))) msgs/s")
        }
        if subs > 0 {
            lines.append("delivered: \(received) received, \(lagged) lagged, \(grouped(rate(received, seconds: deliverySeconds))) msgs/s in total")
        }
        if let latency {
            func ms(_ ns: UInt64) -> String { formatFixed(Double(ns) / 1_000_000, decimals: 3) }
            lines.append("latency:   p50 \(ms(latency.p50)) ms, p90 \(ms(latency.p90)) ms, p99 \(ms(latency.p99)) ms, "
                + "p99.9 \(ms(latency.p999)) ms, max \(ms(latency.max)) ms")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The report as one JSON object on one line.
    var json: String {
        var out: [UInt8] = []
        func field(_ name: String, _ value: String) -> String { "\"\(name)\": \(value)" }
        func number(_ value: Double) -> String { formatFixed(value, decimals: 3) }
        JSONFormat.appendString(Array(topic.utf8), to: &out)
        let topicJSON = String(decoding: out, as: UTF8.self)
        var parts = [
            field("pubs", "\(pubs)"), field("subs", "\(subs)"), field("msgs", "\(msgs)"), field("size", "\(size)"),
            field("topic", topicJSON), field("protocol", "\(protocolVersion.rawValue)"),
            field("publish", "{" + [field("sent", "\(published)"), field("refused", "\(refused)"),
                                    field("seconds", number(publishSeconds)),
                                    field("rate", number(rate(published, seconds: publishSeconds)))].joined(separator: ", ") + "}"),
        ]
        let subscriberObjects = subscribers.map { subscriber in
            "{" + [field("received", "\(subscriber.received)"), field("lagged", "\(subscriber.lagged)"),
                   field("seconds", number(subscriber.seconds)),
                   field("rate", number(rate(subscriber.received, seconds: subscriber.seconds)))].joined(separator: ", ") + "}"
        }
        parts.append(field("subscribers", "[" + subscriberObjects.joined(separator: ", ") + "]"))
        parts.append(field("delivered", "{" + [field("received", "\(received)"), field("lagged", "\(lagged)"),
                                               field("rate", number(rate(received, seconds: deliverySeconds)))].joined(separator: ", ") + "}"))
        if let latency {
            func us(_ ns: UInt64) -> String { number(Double(ns) / 1000) }
            parts.append(field("latency_us", "{" + [field("p50", us(latency.p50)), field("p90", us(latency.p90)),
                                                    field("p99", us(latency.p99)), field("p99_9", us(latency.p999)),
                                                    field("max", us(latency.max))].joined(separator: ", ") + "}"))
        } else {
            parts.append(field("latency_us", "null"))
        }
        parts.append(field("complete", isComplete ? "true" : "false"))
        return "{" + parts.joined(separator: ", ") + "}\n"
    }
}
