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
        json.raw("{")
        json.key("now"); json.number(nowUnixMs); json.raw(",")
        json.key("total"); json.number(topics.count); json.raw(",")
        json.key("offset"); json.number(query.offset); json.raw(",")
        json.key("limit"); json.number(query.limit); json.raw(",")
        json.key("sort"); json.string(query.sort); json.raw(",")
        json.key("topics"); json.raw("[")
        for (index, topic) in page.enumerated() {
            if index > 0 { json.raw(",") }
            let figures = topic.figures
            json.raw("{")
            json.key("topic"); json.string(topic.name); json.raw(",")
            json.key("subscribers"); json.number(figures.subscribers); json.raw(",")
            json.key("published_total"); json.number(figures.published); json.raw(",")
            json.key("publish_rate")
            if let rate = rates[topic.name] { json.number(rate) } else { json.raw("null") }
            json.raw(",")
            json.key("held"); json.number(figures.held); json.raw(",")
            json.key("held_bytes"); json.number(figures.heldBytes); json.raw(",")
            json.key("epoch"); json.string(figures.epoch); json.raw(",")
            json.key("head"); json.number(figures.head); json.raw(",")
            json.key("lagging"); json.number(figures.lagging); json.raw(",")
            json.key("max_lag"); json.number(figures.maxLag)
            json.raw("}")
        }
        json.raw("]}")
        return json.bytes
    }
}
