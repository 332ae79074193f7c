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
        func tie() -> Bool { bytesPrecede(a.name, b.name) }
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

    /// Messages per second since the previous call, for each of `topics` in their order (nil
    /// on the first call, or for a topic not seen then); remembers this call's counts. One
    /// hash per topic; names of topics gone are forgotten when they outnumber the live ones.
    func rates(_ topics: [TopicSnapshot], nowMs: Int64) -> [Double?] {
        let seconds = lastMs.map { Double(nowMs - $0) / 1000 } ?? 0
        if last.count > 2 * topics.count + 1024 { last = [:] }
        let rates = topics.map { topic -> Double? in
            let before = last.updateValue(topic.figures.published, forKey: topic.name)
            guard seconds > 0, let before, topic.figures.published >= before else { return nil }
            return Double(topic.figures.published - before) / seconds
        }
        lastMs = nowMs
        return rates
    }
}

enum TopicsAPI {
    /// The page of `topics` in the query's order, as JSON; `rates[i]` is `topics[i]`'s publish rate.
    static func render(_ topics: [TopicSnapshot], rates: [Double?], query: APIQuery, nowUnixMs: Int64) -> [UInt8] {
        let page = firstInOrder(topics.indices, count: query.offset + query.limit) {
            TopicOrder.precedes(topics[$0], topics[$1], by: query.sort)
        }.dropFirst(query.offset)
        return query.page("topics", total: topics.count, nowUnixMs: nowUnixMs) { json in
            for index in page {
                let topic = topics[index]
                let figures = topic.figures
                json.openObject()
                json.field("topic", topic.name)
                json.field("subscribers", figures.subscribers)
                json.field("published_total", figures.published)
                json.key("publish_rate")
                if index < rates.count, let rate = rates[index] { json.number(rate) } else { json.null() }
                json.field("held", figures.held)
                json.field("held_bytes", figures.heldBytes)
                json.field("epoch", figures.epoch)
                json.field("head", figures.head)
                json.field("lagging", figures.lagging)
                json.field("max_lag", figures.maxLag)
                json.closeObject()
            }
        }
    }
}
