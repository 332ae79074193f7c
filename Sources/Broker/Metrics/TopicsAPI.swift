// `/api/v1/topics`: every topic's subscribers, publish rate, what it holds, and how far behind its readers are.

/// One topic as `/api/v1/topics` shows it.
struct TopicSnapshot: Equatable, Sendable {
    var name: [UInt8]
    var figures: TopicStatistics
}

/// The keys topics can be sorted by, the first the default.
enum TopicOrder {
    static let keys = ["lag", "subscribers", "published", "name"]

    static func precedes(_ a: TopicSnapshot, _ b: TopicSnapshot, by key: String) -> Bool {
        func tie() -> Bool { a.name.lexicographicallyPrecedes(b.name) }
        switch key {
        case "subscribers": return a.figures.subscribers != b.figures.subscribers ? a.figures.subscribers > b.figures.subscribers : tie()
        case "published": return a.figures.published != b.figures.published ? a.figures.published > b.figures.published : tie()
        case "name": return tie()
        default: return a.figures.maxLag != b.figures.maxLag ? a.figures.maxLag > b.figures.maxLag : tie()
        }
    }
}

/// Publish rates between two calls of `/api/v1/topics`: the published count each topic had,
/// and when. Used on the endpoint's render queue only.
final class TopicRates: @unchecked Sendable {
    // @unchecked Sendable: touched only on the metrics render queue (serial).
    private var last: [[UInt8]: UInt64] = [:]
    private var lastMs: Int64?

    /// Messages per second since the previous call for each topic (nil on the first call, or
    /// for a topic not seen then); remembers this call's counts.
    func rates(_ topics: [TopicSnapshot], nowMs: Int64) -> [[UInt8]: Double] {
        var rates: [[UInt8]: Double] = [:]
        if let lastMs, nowMs > lastMs {
            let seconds = Double(nowMs - lastMs) / 1000
            for topic in topics {
                if let before = last[topic.name], topic.figures.published >= before {
                    rates[topic.name] = Double(topic.figures.published - before) / seconds
                }
            }
        }
        last = Dictionary(topics.map { ($0.name, $0.figures.published) }, uniquingKeysWith: { a, _ in a })
        lastMs = nowMs
        return rates
    }
}

enum TopicsAPI {
    /// The page of `topics` in the query's order, as JSON.
    static func render(_ topics: [TopicSnapshot], rates: [[UInt8]: Double], query: APIQuery, nowUnixMs: Int64) -> [UInt8] {
        let page = topics.sorted { TopicOrder.precedes($0, $1, by: query.sort) }.dropFirst(query.offset).prefix(query.limit)
        var json = JSONText()
        json.openObject()
        json.field("now", nowUnixMs)
        json.field("total", topics.count)
        json.field("offset", query.offset)
        json.field("limit", query.limit)
        json.field("sort", query.sort)
        json.key("topics")
        json.openArray()
        for topic in page {
            let figures = topic.figures
            json.openObject()
            json.field("topic", topic.name)
            json.field("subscribers", figures.subscribers)
            json.field("published_total", figures.published)
            json.key("publish_rate")
            if let rate = rates[topic.name] { json.number(rate) } else { json.null() }
            json.field("held", figures.held)
            json.field("held_bytes", figures.heldBytes)
            json.field("epoch", figures.epoch)
            json.field("head", figures.head)
            json.field("lagging", figures.lagging)
            json.field("max_lag", figures.maxLag)
            json.closeObject()
        }
        json.closeArray()
        json.closeObject()
        return json.bytes
    }
}
