// The JSON API on the HTTP port: /api/v1/connections (who is behind, per subscription and topic) and /api/v1/topics.
import Foundation
import Testing
@testable import Broker

/// The JSON object of a `GET`, or a failure with the status.
private func getJSON(_ port: Int, _ path: String) throws -> [String: Any] {
    let reply = try get(port, path)
    guard reply.status == 200 else { throw ClientError("GET \(path): \(String(describing: reply.status)) \(reply.body)") }
    #expect(reply.headers["content-type"] == "application/json")
    let data = Data(reply.body.joined(separator: "\n").utf8)
    guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw ClientError("not an object") }
    return object
}

@Suite struct APITests {
    @Test func connectionsSayWhoIsBehindByHowMuchPerTopic() throws {
        try withMetricsBroker({ $0.capacity = 64 }) { broker, port in
            let slow = try broker.connect(receiveBuffer: 4096)
            #expect(try slow.request("SUB flood") == "OK")
            let reader = try broker.connect()
            #expect(try reader.request("SUB calm") == "OK")
            let socketClient = try WebSocketTestClient(port: port)
            try socketClient.send("HELLO 2\nSUB calm group=g\n")
            _ = try socketClient.message()
            _ = try socketClient.message()
            let publisher = try broker.connect()
            let payload = String(repeating: "x", count: 200)
            try publisher.sendRaw(String(repeating: "PUB flood \(payload)\n", count: 30_000))
            for _ in 0..<30_000 { _ = try publisher.line() }
            #expect(try publisher.request("PUB calm one") == "OK 2")
            try reader.expectLine("MSG calm one")

            let page = try getJSON(port, "/api/v1/connections?sort=lag&limit=2")
            #expect(page["total"] as? Int == 4)
            #expect(page["limit"] as? Int == 2)
            let connections = try #require(page["connections"] as? [[String: Any]])
            #expect(connections.count == 2)
            let first = connections[0]
            let subscriptions = try #require(first["subscriptions"] as? [[String: Any]])
            #expect(subscriptions.first?["pattern"] as? String == "flood", "the subscriber that does not read comes first")
            let topics = try #require(subscriptions.first?["topics"] as? [[String: Any]])
            #expect(topics.first?["topic"] as? String == "flood")
            #expect((topics.first?["behind"] as? Int ?? 0) > 0)
            #expect((first["behind"] as? Int ?? 0) > 0)
            #expect(first["transport"] as? String == "tcp")

            // Everyone, by id: the publisher's counters, the WebSocket member with its group.
            let all = try #require(try getJSON(port, "/api/v1/connections?sort=id")["connections"] as? [[String: Any]])
            #expect(all.map { $0["id"] as? Int ?? 0 } == all.map { $0["id"] as? Int ?? 0 }.sorted())
            let publisherEntry = try #require(all.first { ($0["messages_in"] as? Int) == 30_001 })
            #expect((publisherEntry["bytes_in"] as? Int ?? 0) > 30_000 * 200)
            #expect((publisherEntry["bytes_out"] as? Int ?? 0) >= 30_001 * 5)
            let member = try #require(all.first { $0["transport"] as? String == "websocket" })
            #expect(member["protocol"] as? Int == 2)
            let memberSubscription = try #require((member["subscriptions"] as? [[String: Any]])?.first)
            #expect(memberSubscription["group"] as? String == "g")
            let readerEntry = try #require(all.first { ($0["subscriptions"] as? [[String: Any]])?.first?["pattern"] as? String == "calm"
                && $0["transport"] as? String == "tcp" })
            #expect(readerEntry["messages_out"] as? Int == 1)
            #expect((readerEntry["connected_since"] as? Int ?? 0) > 1_700_000_000_000)
            // Offset pages through the same order.
            let second = try #require(try getJSON(port, "/api/v1/connections?sort=id&offset=1&limit=1")["connections"] as? [[String: Any]])
            #expect(second.first?["id"] as? Int == all[1]["id"] as? Int)
        }
    }

    @Test func topicsGiveTheirFiguresAndRatesBetweenCalls() throws {
        try withMetricsBroker { broker, port in
            let subscriber = try broker.connect()
            #expect(try subscriber.request("SUB t.a") == "OK")
            let publisher = try broker.connect()
            for n in 1...3 { #expect(try publisher.request("PUB t.a m\(n)") == "OK 1") }
            #expect(try publisher.request("PUB t.b x") == "OK 0")
            let first = try getJSON(port, "/api/v1/topics?sort=name")
            let topics = try #require(first["topics"] as? [[String: Any]])
            let a = try #require(topics.first { $0["topic"] as? String == "t.a" })
            #expect(a["subscribers"] as? Int == 1)
            #expect(a["published_total"] as? Int == 3)
            #expect(a["head"] as? Int == 3)
            #expect(a["publish_rate"] is NSNull, "no rate before a second call")
            #expect((a["epoch"] as? String).map(isValidEpoch) == true)
            for n in 4...10 { _ = try publisher.request("PUB t.a m\(n)") }
            let again = try #require(try getJSON(port, "/api/v1/topics?sort=published&limit=1")["topics"] as? [[String: Any]])
            #expect(again.count == 1)
            #expect(again[0]["topic"] as? String == "t.a")
            #expect(again[0]["publish_rate"] is NSNumber)
        }
    }

    @Test func aConnectionWithTenThousandSubscriptionsIsShownWhole() throws {
        try withMetricsBroker { broker, port in
            let client = try broker.connect()
            try client.sendRaw((0..<10_000).map { "SUB many.\($0)\n" }.joined())
            for _ in 0..<10_000 { #expect(try client.line() == "OK") }
            let page = try getJSON(port, "/api/v1/connections?limit=1")
            let subscriptions = try #require((page["connections"] as? [[String: Any]])?.first?["subscriptions"] as? [[String: Any]])
            #expect(subscriptions.count == 10_000)
            #expect(Set(subscriptions.compactMap { $0["pattern"] as? String }).count == 10_000)
            let topics = try getJSON(port, "/api/v1/topics?sort=name&offset=9998&limit=5")
            #expect(topics["total"] as? Int == 10_000)
            #expect((topics["topics"] as? [[String: Any]])?.count == 2, "the last page holds what is left")
        }
    }

    @Test func theJavaScriptClientIsServed() throws {
        try withMetricsBroker { _, port in
            let reply = try get(port, "/broker.js")
            #expect(reply.status == 200)
            #expect(reply.headers["content-type"] == "text/javascript; charset=utf-8")
            #expect(reply.body.contains { $0.contains("class BrokerClient") })
            #expect(reply.body.joined(separator: "\n") + "\n" == BrokerJS.source, "served as it is kept")
        }
    }

    @Test func theDashboardAndTheStatsAreServed() throws {
        try withMetricsBroker { broker, port in
            let page = try get(port, "/")
            #expect(page.status == 200)
            #expect(page.headers["content-type"] == "text/html; charset=utf-8")
            let html = page.body.joined(separator: "\n")
            #expect(html.contains("<script src=\"/broker.js\"></script>"))
            #expect(html.contains("/api/v1/connections") && html.contains("/api/v1/topics") && html.contains("$SYS.lagged"))
            let client = try broker.connect()
            #expect(try client.request("PUB s.t x") == "OK 0")
            let stats = try getJSON(port, "/api/v1/stats")
            #expect(stats["published_total"] as? Int == 1)
            #expect(stats["connections"] as? Int == 1)
            #expect(stats["version"] as? String == BrokerVersion.current)
        }
    }

    @Test func aQueryThatCannotBeReadIsA400() throws {
        try withMetricsBroker { _, port in
            for query in ["sort=bogus", "limit=0", "limit=10001", "offset=-1", "limit=1&limit=2", "color=red", "limit"] {
                let reply = try get(port, "/api/v1/connections?\(query)")
                #expect(reply.status == 400, "\(query)")
            }
            #expect(try get(port, "/api/v1/topics?sort=subscribers").status == 200)
            #expect(try get(port, "/api/v1/nothing").status == 404)
        }
    }
}
