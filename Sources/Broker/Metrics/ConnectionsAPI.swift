// `/api/v1/connections`: who is connected, and per subscription how far behind it is and what it missed.

/// One concrete topic a subscription reads: how many messages it is behind now, and how
/// many it missed in all (counted in its `LAGGED` frames).
struct TopicLag: Equatable, Sendable {
    var topic: [UInt8]
    var behind: Int
    var missed: UInt64
}

/// One subscription of a connection.
struct SubscriptionSnapshot: Equatable, Sendable {
    var pattern: [UInt8]
    var group: [UInt8]?
    var topics: [TopicLag]
}

/// One connection as `/api/v1/connections` shows it.
struct ConnectionSnapshot: Equatable, Sendable {
    var id: UInt64
    var address: String
    var transport: String
    var version: Int
    var openedAtUnixMs: Int64
    var bytesIn: UInt64
    var bytesOut: UInt64
    var messagesIn: UInt64
    var messagesOut: UInt64
    var pendingBytes: Int
    var subscriptions: [SubscriptionSnapshot]

    /// Messages behind now, over every subscription and topic.
    var behind: Int { subscriptions.reduce(0) { $0 + $1.topics.reduce(0) { $0 + $1.behind } } }
    /// Messages missed in all.
    var missed: UInt64 { subscriptions.reduce(0) { $0 + $1.topics.reduce(0) { $0 + $1.missed } } }
}

/// The keys connections can be sorted by, the first the default: most behind first, most
/// missed first, most pending output first, most bytes out first, oldest (lowest id) first.
enum ConnectionOrder {
    static let keys = ["lag", "missed", "pending", "bytes_out", "id"]

    /// Whether `a` comes before `b` under `key`, ties by id.
    static func precedes(_ a: ConnectionSnapshot, _ b: ConnectionSnapshot, by key: String) -> Bool {
        func tie() -> Bool { a.id < b.id }
        switch key {
        case "missed": return a.missed != b.missed ? a.missed > b.missed : tie()
        case "pending": return a.pendingBytes != b.pendingBytes ? a.pendingBytes > b.pendingBytes : tie()
        case "bytes_out": return a.bytesOut != b.bytesOut ? a.bytesOut > b.bytesOut : tie()
        case "id": return tie()
        default: return a.behind != b.behind ? a.behind > b.behind : tie()
        }
    }
}

/// One loop's part of the answer: how many connections it has, and the first
/// `offset + limit` of them in the query's order (the rest cannot be on the page).
struct LoopConnections: Sendable {
    var total: Int
    var first: [ConnectionSnapshot]
}

extension Session {
    /// This session as `/api/v1/connections` shows it (reads each cursor's ring position: one
    /// lock per cursor). Loop thread.
    func snapshot() -> ConnectionSnapshot {
        var subscriptions: [SubscriptionSnapshot] = []
        self.subscriptions.forEachKeyed { key, subscription in
            let group = key.count > subscription.pattern.count ? Array(key[(subscription.pattern.count + 1)...]) : nil
            var topics: [TopicLag] = []
            for cursor in subscription.cursors {
                topics.append(TopicLag(topic: cursor.topic.name, behind: cursor.receiver?.pendingCount ?? 0, missed: cursor.missedTotal))
            }
            subscriptions.append(SubscriptionSnapshot(pattern: subscription.pattern, group: group, topics: topics))
        }
        subscriptions.sort { $0.pattern.lexicographicallyPrecedes($1.pattern) }
        return ConnectionSnapshot(id: id, address: peer, transport: transportName, version: Int(protocolVersion),
                                  openedAtUnixMs: openedAtUnixMs, bytesIn: bytesIn, bytesOut: bytesOut,
                                  messagesIn: messagesIn, messagesOut: messagesOut, pendingBytes: output.pendingBytes,
                                  subscriptions: subscriptions)
    }
}

enum ConnectionsAPI {
    /// The first `offset + limit` of `sessions` in the query's order (a loop's part).
    static func collect(_ sessions: some Sequence<Session>, query: APIQuery) -> LoopConnections {
        let all = sessions.map { $0.snapshot() }
        let wanted = min(all.count, query.offset + query.limit)
        let sorted = all.sorted { ConnectionOrder.precedes($0, $1, by: query.sort) }
        return LoopConnections(total: all.count, first: Array(sorted.prefix(wanted)))
    }

    /// The page: every loop's part merged in order, then `offset` and `limit`; as JSON.
    static func render(_ parts: [LoopConnections], query: APIQuery, nowUnixMs: Int64) -> [UInt8] {
        let total = parts.reduce(0) { $0 + $1.total }
        let merged = parts.flatMap(\.first).sorted { ConnectionOrder.precedes($0, $1, by: query.sort) }
        let page = merged.dropFirst(query.offset).prefix(query.limit)
        var json = JSONText()
        json.raw("{")
        json.key("now"); json.number(nowUnixMs); json.raw(",")
        json.key("total"); json.number(total); json.raw(",")
        json.key("offset"); json.number(query.offset); json.raw(",")
        json.key("limit"); json.number(query.limit); json.raw(",")
        json.key("sort"); json.string(query.sort); json.raw(",")
        json.key("connections"); json.raw("[")
        for (index, connection) in page.enumerated() {
            if index > 0 { json.raw(",") }
            json.raw("{")
            json.key("id"); json.number(connection.id); json.raw(",")
            json.key("address"); json.string(connection.address); json.raw(",")
            json.key("transport"); json.string(connection.transport); json.raw(",")
            json.key("protocol"); json.number(connection.version); json.raw(",")
            json.key("connected_since"); json.number(connection.openedAtUnixMs); json.raw(",")
            json.key("bytes_in"); json.number(connection.bytesIn); json.raw(",")
            json.key("bytes_out"); json.number(connection.bytesOut); json.raw(",")
            json.key("messages_in"); json.number(connection.messagesIn); json.raw(",")
            json.key("messages_out"); json.number(connection.messagesOut); json.raw(",")
            json.key("pending_bytes"); json.number(connection.pendingBytes); json.raw(",")
            json.key("behind"); json.number(connection.behind); json.raw(",")
            json.key("missed"); json.number(connection.missed); json.raw(",")
            json.key("subscriptions"); json.raw("[")
            for (s, subscription) in connection.subscriptions.enumerated() {
                if s > 0 { json.raw(",") }
                json.raw("{")
                json.key("pattern"); json.string(subscription.pattern); json.raw(",")
                json.key("group")
                if let group = subscription.group { json.string(group) } else { json.raw("null") }
                json.raw(",")
                json.key("topics"); json.raw("[")
                for (t, topic) in subscription.topics.enumerated() {
                    if t > 0 { json.raw(",") }
                    json.raw("{")
                    json.key("topic"); json.string(topic.topic); json.raw(",")
                    json.key("behind"); json.number(topic.behind); json.raw(",")
                    json.key("missed"); json.number(topic.missed)
                    json.raw("}")
                }
                json.raw("]}")
            }
            json.raw("]}")
        }
        json.raw("]}")
        return json.bytes
    }
}
