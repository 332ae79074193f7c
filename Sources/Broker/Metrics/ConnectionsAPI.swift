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

/// What connections are ordered by: a few figures per connection, taken before any detail,
/// so that only the connections on the page are looked at closely.
struct ConnectionRank: Equatable, Sendable {
    var id: UInt64
    /// Messages behind now, over every subscription and topic.
    var behind: Int
    /// Messages missed in all.
    var missed: UInt64
    var pendingBytes: Int
    var bytesOut: UInt64
}

/// One connection as `/api/v1/connections` shows it.
struct ConnectionSnapshot: Equatable, Sendable {
    var rank: ConnectionRank
    var address: String
    var transport: String
    var version: Int
    var openedAtUnixMs: Int64
    var bytesIn: UInt64
    var messagesIn: UInt64
    var messagesOut: UInt64
    var subscriptions: [SubscriptionSnapshot]
}

/// The keys connections can be sorted by, the first the default: most behind first, most
/// missed first, most pending output first, most bytes out first, oldest (lowest id) first.
enum ConnectionOrder {
    static let keys = ["lag", "missed", "pending", "bytes_out", "id"]

    /// Whether `a` comes before `b` under `key`, ties by id.
    static func precedes(_ a: ConnectionRank, _ b: ConnectionRank, by key: String) -> Bool {
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
    /// The figures this session is ordered by (one lock per cursor). Loop thread.
    func rank() -> ConnectionRank {
        var behind = 0
        var missed: UInt64 = 0
        subscriptions.forEach { subscription in
            for cursor in subscription.cursors {
                behind += cursor.receiver?.pendingCount ?? 0
                missed &+= missedTotal(of: cursor)
            }
        }
        return ConnectionRank(id: id, behind: behind, missed: missed, pendingBytes: output.pendingBytes, bytesOut: bytesOut)
    }

    /// This session as `/api/v1/connections` shows it, ranked by `rank`. Loop thread.
    func snapshot(_ rank: ConnectionRank) -> ConnectionSnapshot {
        var subscriptions: [SubscriptionSnapshot] = []
        self.subscriptions.forEachKeyed { key, subscription in
            let group = key.count > subscription.pattern.count ? Array(key[(subscription.pattern.count + 1)...]) : nil
            let topics = subscription.cursors.map { cursor in
                TopicLag(topic: cursor.topic.name, behind: cursor.receiver?.pendingCount ?? 0, missed: missedTotal(of: cursor))
            }
            subscriptions.append(SubscriptionSnapshot(pattern: subscription.pattern, group: group, topics: topics))
        }
        subscriptions.sort { $0.pattern.lexicographicallyPrecedes($1.pattern) }
        return ConnectionSnapshot(rank: rank, address: peer, transport: transportName, version: Int(protocolVersion),
                                  openedAtUnixMs: openedAtUnixMs, bytesIn: bytesIn, messagesIn: messagesIn,
                                  messagesOut: messagesOut, subscriptions: subscriptions)
    }
}

enum ConnectionsAPI {
    /// The first `offset + limit` of `sessions` in the query's order (a loop's part): every
    /// session is ranked, only those that can be on the page are looked at in detail.
    /// A session's cursors are read under the store's lock, one session per hold.
    static func collect(_ sessions: some Sequence<Session>, query: APIQuery, store: any TopicStore) -> LoopConnections {
        let ranked = sessions.map { session in (session, store.withCursorsLocked { session.rank() }) }
        let first = firstInOrder(ranked, count: query.offset + query.limit) { ConnectionOrder.precedes($0.1, $1.1, by: query.sort) }
        return LoopConnections(total: ranked.count, first: first.map { entry in
            store.withCursorsLocked { entry.0.snapshot(entry.1) }
        })
    }

    /// The page: every loop's part merged in order, then `offset` and `limit`; as JSON.
    static func render(_ parts: [LoopConnections], query: APIQuery, nowUnixMs: Int64) -> [UInt8] {
        let total = parts.reduce(0) { $0 + $1.total }
        let merged = firstInOrder(parts.lazy.flatMap(\.first), count: query.offset + query.limit) {
            ConnectionOrder.precedes($0.rank, $1.rank, by: query.sort)
        }
        return query.page("connections", total: total, nowUnixMs: nowUnixMs) { json in
            for connection in merged.dropFirst(query.offset) { write(connection, to: &json) }
        }
    }

    /// One connection of the page, with its subscriptions and their topics.
    private static func write(_ connection: ConnectionSnapshot, to json: inout JSONText) {
        let rank = connection.rank
        json.openObject()
        json.field("id", rank.id)
        json.field("address", connection.address)
        json.field("transport", connection.transport)
        json.field("protocol", connection.version)
        json.field("connected_since", connection.openedAtUnixMs)
        json.field("bytes_in", connection.bytesIn)
        json.field("bytes_out", rank.bytesOut)
        json.field("messages_in", connection.messagesIn)
        json.field("messages_out", connection.messagesOut)
        json.field("pending_bytes", rank.pendingBytes)
        json.field("behind", rank.behind)
        json.field("missed", rank.missed)
        json.key("subscriptions")
        json.openArray()
        for subscription in connection.subscriptions {
            json.openObject()
            json.field("pattern", subscription.pattern)
            json.key("group")
            if let group = subscription.group { json.string(group) } else { json.null() }
            json.key("topics")
            json.openArray()
            for topic in subscription.topics {
                json.openObject()
                json.field("topic", topic.topic)
                json.field("behind", topic.behind)
                json.field("missed", topic.missed)
                json.closeObject()
            }
            json.closeArray()
            json.closeObject()
        }
        json.closeArray()
        json.closeObject()
    }
}
