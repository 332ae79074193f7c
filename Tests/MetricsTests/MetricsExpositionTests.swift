// The Prometheus text format of a snapshot: families, types, values, label escaping.
import Testing
@testable import Broker

@Suite struct MetricsExpositionTests {
    private func snapshot(topics: [MetricsSnapshot.TopicSample] = []) -> MetricsSnapshot {
        var snapshot = MetricsSnapshot()
        snapshot.uptimeSeconds = 12
        snapshot.connections = 3
        snapshot.topics = 2
        snapshot.subscriptions = 4
        snapshot.published = 100
        snapshot.delivered = 250
        snapshot.laggedEvents = 2
        snapshot.laggedMessages = 17
        snapshot.bytesIn = 1234
        snapshot.bytesOut = 5678
        snapshot.version = "0.1.0"
        snapshot.topicSamples = topics
        return snapshot
    }

    /// Sample lines (not comments), as name+labels → value.
    private func samples(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            result[String(line[..<space])] = String(line[line.index(after: space)...])
        }
        return result
    }

    @Test func everyStatsFigureIsASampleWithItsValue() {
        let figures = samples(MetricsExposition.render(snapshot()))
        #expect(figures["broker_info{version=\"0.1.0\"}"] == "1")
        #expect(figures["broker_uptime_seconds"] == "12")
        #expect(figures["broker_connections"] == "3")
        #expect(figures["broker_topics"] == "2")
        #expect(figures["broker_subscriptions"] == "4")
        #expect(figures["broker_published_total"] == "100")
        #expect(figures["broker_delivered_total"] == "250")
        #expect(figures["broker_lagged_events_total"] == "2")
        #expect(figures["broker_lagged_messages_total"] == "17")
        #expect(figures["broker_bytes_in_total"] == "1234")
        #expect(figures["broker_bytes_out_total"] == "5678")
    }

    @Test func everyFamilyHasOneHelpAndOneTypeLineBeforeItsSamplesAndCountersEndInTotal() {
        let sample = MetricsSnapshot.TopicSample(name: "a.b", subscribers: 2, held: 5, published: 9, lagging: 1, maxLag: 5)
        let text = MetricsExposition.render(snapshot(topics: [sample]))
        #expect(text.hasSuffix("\n"))
        var typed: [String: String] = [:]
        var helped: Set<String> = []
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ")
            if line.hasPrefix("# HELP ") {
                #expect(helped.insert(String(words[2])).inserted, "two HELP lines for \(words[2])")
            } else if line.hasPrefix("# TYPE ") {
                let name = String(words[2])
                #expect(typed[name] == nil, "two TYPE lines for \(name)")
                #expect(helped.contains(name), "TYPE before HELP for \(name)")
                typed[name] = String(words[3])
            } else {
                let name = String(line.prefix { $0 != "{" && $0 != " " })
                #expect(typed[name] != nil, "sample \(name) before its TYPE line")
            }
        }
        for (name, type) in typed {
            #expect((type == "counter") == name.hasSuffix("_total"), "\(name) is a \(type)")
        }
        #expect(typed.count == 19)
    }

    @Test func perTopicSeriesCarryTheTopicLabel() {
        let topics = [
            MetricsSnapshot.TopicSample(name: "orders.eu", subscribers: 2, held: 5, published: 9, lagging: 1, maxLag: 5,
                                        head: 9, heldBytes: 320),
            MetricsSnapshot.TopicSample(name: "orders.us", subscribers: 1, held: 0, published: 3, lagging: 0, maxLag: 0),
        ]
        let figures = samples(MetricsExposition.render(snapshot(topics: topics)))
        #expect(figures["broker_topic_subscribers{topic=\"orders.eu\"}"] == "2")
        #expect(figures["broker_topic_held{topic=\"orders.eu\"}"] == "5")
        #expect(figures["broker_topic_published_total{topic=\"orders.eu\"}"] == "9")
        #expect(figures["broker_topic_lagging{topic=\"orders.eu\"}"] == "1")
        #expect(figures["broker_topic_max_lag{topic=\"orders.eu\"}"] == "5")
        #expect(figures["broker_topic_head{topic=\"orders.eu\"}"] == "9")
        #expect(figures["broker_topic_held_bytes{topic=\"orders.eu\"}"] == "320")
        #expect(figures["broker_topic_published_total{topic=\"orders.us\"}"] == "3")
        #expect(figures.keys.filter { $0.hasPrefix("broker_topic_") }.count == 14)
    }

    @Test func labelValuesEscapeBackslashQuoteAndNewline() {
        #expect(MetricsExposition.escapeLabelValue(#"a\b"c"# + "\n" + "d") == #"a\\b\"c\nd"#)
        #expect(MetricsExposition.escapeLabelValue("plain.topic") == "plain.topic")
        let topic = MetricsSnapshot.TopicSample(name: #"we"ird\"#, subscribers: 1, held: 0, published: 0, lagging: 0, maxLag: 0)
        let text = MetricsExposition.render(snapshot(topics: [topic]))
        #expect(text.contains(#"broker_topic_subscribers{topic="we\"ird\\"} 1"#))
    }

    @Test func withoutTopicsTheTopicFamiliesAreDeclaredButEmpty() {
        let text = MetricsExposition.render(snapshot())
        #expect(text.contains("# TYPE broker_topic_subscribers gauge\n"))
        #expect(!text.contains("broker_topic_subscribers{"))
    }
}
