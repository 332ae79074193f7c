// What `top --http` shows: the subscribers most behind now, per topic, from the broker's /api/v1/connections.
import Foundation

/// One subscription's concrete topic on one connection, as `/api/v1/connections` reports it.
struct BehindRow: Equatable, Sendable {
    /// The broker's id for the connection.
    var client: UInt64
    var address: String
    /// `tcp` or `websocket`.
    var transport: String
    var topic: String
    /// Messages the subscriber is behind the topic's head now.
    var behind: UInt64
    /// Messages it missed in all (announced with `LAGGED`).
    var missed: UInt64
}

/// A page of `/api/v1/connections?sort=lag`, cut into rows.
struct BehindPage: Equatable, Sendable {
    /// Connections on the broker in all.
    var totalConnections: Int
    /// Per connection on the page, per topic it follows that is behind now or missed
    /// anything, most behind first, then most missed, then by client and topic.
    var rows: [BehindRow]

    /// The API path for the `limit` most lagged connections.
    static func path(limit: Int) -> String { "/api/v1/connections?sort=lag&limit=\(min(max(1, limit), 10_000))" }

    /// Parses the API's JSON; nil when it is not the expected shape.
    init?(json: [UInt8]) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any],
              let total = object["total"] as? Int, let connections = object["connections"] as? [[String: Any]] else { return nil }
        var rows: [BehindRow] = []
        for connection in connections {
            guard let id = (connection["id"] as? NSNumber)?.uint64Value, let address = connection["address"] as? String,
                  let transport = connection["transport"] as? String,
                  let subscriptions = connection["subscriptions"] as? [[String: Any]] else { return nil }
            for subscription in subscriptions {
                guard let topics = subscription["topics"] as? [[String: Any]] else { return nil }
                for topic in topics {
                    guard let name = topic["topic"] as? String, let behind = (topic["behind"] as? NSNumber)?.uint64Value,
                          let missed = (topic["missed"] as? NSNumber)?.uint64Value else { return nil }
                    if behind == 0 && missed == 0 { continue }
                    rows.append(BehindRow(client: id, address: address, transport: transport, topic: name, behind: behind, missed: missed))
                }
            }
        }
        rows.sort { a, b in
            if a.behind != b.behind { return a.behind > b.behind }
            if a.missed != b.missed { return a.missed > b.missed }
            return (a.client, a.topic) < (b.client, b.topic)
        }
        self.init(totalConnections: total, rows: rows)
    }

    init(totalConnections: Int, rows: [BehindRow]) {
        self.totalConnections = totalConnections
        self.rows = rows
    }

    /// The table: at most `limit` rows, then how many connections were not looked at.
    func render(limit: Int, looked: Int) -> String {
        let shown = rows.prefix(limit)
        let cells = shown.map { [String($0.client), $0.address, $0.transport, $0.topic, String($0.behind), String($0.missed)] }
        var out = TextTable.render(
            titles: ["CLIENT", "ADDR", "TRANSPORT", "TOPIC", "BEHIND", "MISSED"], rows: cells, rightAligned: [0, 4, 5],
            empty: "(no subscriber behind or missing messages among the \(min(looked, totalConnections)) most lagged connections)")
        if rows.count > shown.count { out += "(\(rows.count - shown.count) more rows)\n" }
        if totalConnections > looked { out += "(\(totalConnections - looked) more connections not looked at)\n" }
        return out
    }
}
