// stats and top without sockets: STATS parsing, rates between samples, table and JSON, $SYS.lagged parsing and aggregation.
import BrokerClient
import Foundation
import Testing
@testable import broker_cli

private let sample = "uptime_s=3725 connections=3 topics=2 subscriptions=4 published_total=1000 delivered_total=2000"
    + " lagged_events_total=2 lagged_messages_total=50 bytes_in_total=1536 bytes_out_total=3145728 version=0.1.0"

private func stats(_ text: String) throws -> BrokerStats {
    try #require(BrokerStats(parsing: text))
}

@Suite struct StatsParsing {
    @Test func fieldsKeepTheBrokersOrderAndValues() throws {
        let parsed = try stats(sample)
        #expect(parsed.fields.first == BrokerStats.Field(key: "uptime_s", value: "3725"))
        #expect(parsed.fields.map(\.key).last == "version")
        #expect(parsed["version"] == "0.1.0")
        #expect(parsed.counter("published_total") == 1000)
        #expect(parsed.counter("version") == nil)
        #expect(parsed["missing"] == nil)
    }

    @Test func aWordWithoutEqualsOrKeyIsMalformed() {
        #expect(BrokerStats(parsing: "a=1 b") == nil)
        #expect(BrokerStats(parsing: "=1") == nil)
        #expect(BrokerStats(parsing: "")?.fields == [])
    }
}

@Suite struct Rates {
    @Test func ratesAreTheGrowthPerSecondOfEachCounter() throws {
        let before = try stats("published_total=100 delivered_total=200 lagged_events_total=0 lagged_messages_total=0 bytes_in_total=1000 bytes_out_total=0")
        let after = try stats("published_total=300 delivered_total=200 lagged_events_total=1 lagged_messages_total=40 bytes_in_total=2000 bytes_out_total=512")
        let rates = Rate.between(before, after, elapsed: .milliseconds(500))
        #expect(rates.map(\.name) == ["published/s", "delivered/s", "lagged_events/s", "lagged_msgs/s", "bytes_in/s", "bytes_out/s"])
        #expect(rates.map(\.perSecond) == [400, 0, 2, 80, 2000, 1024])
    }

    @Test func noPreviousSampleOrACounterThatWentBackHasNoRate() throws {
        let first = try stats("published_total=5")
        #expect(Rate.between(nil, first, elapsed: .seconds(1)).allSatisfy { $0.perSecond == nil })
        let restarted = try stats("published_total=1")
        #expect(Rate.between(first, restarted, elapsed: .seconds(1)).first?.perSecond == nil)
        #expect(Rate.between(first, first, elapsed: .zero).first?.perSecond == nil)
    }
}

@Suite struct StatsOutput {
    @Test func tableAlignsKeysAndValuesWithHumanUnits() throws {
        #expect(StatsFormat.table(try stats(sample)) == """
        uptime_s                  3725  (1h 2m 5s)
        connections                  3
        topics                       2
        subscriptions                4
        published_total           1000
        delivered_total           2000
        lagged_events_total          2
        lagged_messages_total       50
        bytes_in_total            1536  (1.5 KiB)
        bytes_out_total        3145728  (3.0 MiB)
        version                  0.1.0

        """)
    }

    @Test func jsonHasNumbersAsNumbersAndVersionAsAString() throws {
        let text = StatsFormat.json(try stats(sample))
        #expect(text.hasSuffix("}\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["published_total"] as? Int == 1000)
        #expect(object["bytes_out_total"] as? Int == 3_145_728)
        #expect(object["version"] as? String == "0.1.0")
        #expect(object.count == 11)
        #expect(text.hasPrefix(#"{"uptime_s": 3725, "connections": 3, "#))
    }

    @Test func topicFiguresKeepTheTopicAsAString() throws {
        let text = StatsFormat.json(try stats("topic=123 subscribers=1 held=0 published_total=7 lagging=0 max_lag=0"))
        #expect(text == #"{"topic": "123", "subscribers": 1, "held": 0, "published_total": 7, "lagging": 0, "max_lag": 0}"# + "\n")
    }

    @Test func jsonWithRatesAddsARatesObject() throws {
        let text = StatsFormat.json(try stats("published_total=10"), rates: [
            Rate(name: "published/s", key: "published_total", perSecond: 12.5),
            Rate(name: "delivered/s", key: "delivered_total", perSecond: nil),
        ])
        #expect(text == #"{"published_total": 10, "rates": {"published/s": 12.5, "delivered/s": null}}"# + "\n")
    }

    @Test func humanUnits() {
        #expect(StatsFormat.bytes(0) == "0 B")
        #expect(StatsFormat.bytes(1023) == "1023 B")
        #expect(StatsFormat.bytes(1024) == "1.0 KiB")
        #expect(StatsFormat.bytes(5 * 1024 * 1024 * 1024) == "5.0 GiB")
        #expect(StatsFormat.duration(seconds: 59) == "59s")
        #expect(StatsFormat.duration(seconds: 125) == "2m 5s")
        #expect(StatsFormat.duration(seconds: 90_061) == "1d 1h 1m 1s")
    }

    @Test func watchRepeatsItsHeaderEveryTwentyRows() throws {
        var lines = WatchLines()
        let figures = try stats(sample)
        let rates = Rate.between(figures, figures, elapsed: .seconds(1))
        var text = lines.start()
        for _ in 0..<41 { text += lines.next(figures, rates) }
        let all = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(all.count == 41 + 3)
        let headers = all.indices.filter { all[$0] + "\n" == WatchLines.header }
        #expect(headers == [0, 21, 42])
        #expect(all[1].split(separator: " ").map(String.init) == ["3", "2", "4", "0.0", "0.0", "0.0", "0.0", "0", "B/s", "0", "B/s"])
    }

    @Test func watchRowShowsRatesInTheirColumns() throws {
        var lines = WatchLines()
        _ = lines.start()
        let row = lines.next(try stats(sample), [
            Rate(name: "published/s", key: "published_total", perSecond: 1234.4),
            Rate(name: "bytes_in/s", key: "bytes_in_total", perSecond: 2048),
        ])
        #expect(row.split(whereSeparator: \.isWhitespace).map(String.init) == ["3", "2", "4", "1234", "-", "-", "-", "2.0", "KiB/s", "-"])
    }
}

@Suite struct LaggedReports {
    @Test func payloadIsParsed() {
        let report = LagReport(payload: "topic=orders.eu client=17 addr=127.0.0.1:50412 missed=4096")
        #expect(report == LagReport(topic: "orders.eu", client: "17", addr: "127.0.0.1:50412", missed: 4096))
        #expect(LagReport(payload: "topic=t client=1 addr=[::1]:5 missed=1 extra=x")?.addr == "[::1]:5")
    }

    @Test func malformedPayloadsAreIgnored() {
        #expect(LagReport(payload: "topic=t client=1 addr=a:1") == nil)
        #expect(LagReport(payload: "topic=t client=1 addr=a:1 missed=many") == nil)
        #expect(LagReport(payload: "garbage") == nil)
    }

    @Test func reportsAddUpPerClientAddressAndTopicAndSortByTheLastInterval() {
        var aggregate = LagAggregate()
        let start = ContinuousClock.now
        aggregate.add(LagReport(topic: "a", client: "1", addr: "h:1", missed: 100), at: start)
        aggregate.add(LagReport(topic: "a", client: "1", addr: "h:1", missed: 50), at: start.advanced(by: .seconds(1)))
        aggregate.add(LagReport(topic: "b", client: "1", addr: "h:1", missed: 10), at: start)
        aggregate.add(LagReport(topic: "a", client: "2", addr: "h:2", missed: 120), at: start)
        var rows = aggregate.top(10)
        #expect(rows.map(\.key.topic) == ["a", "a", "b"])
        #expect(rows.map(\.key.client) == ["1", "2", "1"])
        #expect(rows[0].events == 2 && rows[0].missed == 150 && rows[0].missedThisInterval == 150)
        #expect(rows[0].lastSeen == start.advanced(by: .seconds(1)))

        // A new interval: client 2 lags again and goes first, then the rest by total.
        aggregate.endInterval()
        aggregate.add(LagReport(topic: "a", client: "2", addr: "h:2", missed: 1), at: start)
        rows = aggregate.top(10)
        #expect(rows.map(\.key.client) == ["2", "1", "1"])
        #expect(rows.map(\.missedThisInterval) == [1, 0, 0])
        #expect(rows.map(\.missed) == [121, 150, 10])
        #expect(aggregate.top(2).count == 2)
    }

    @Test func screenShowsTheStatsHeaderAndTheRows() throws {
        var aggregate = LagAggregate()
        let now = ContinuousClock.now
        aggregate.add(LagReport(topic: "flood", client: "7", addr: "127.0.0.1:40000", missed: 4000), at: now.advanced(by: .milliseconds(-1500)))
        let figures = try stats(sample)
        let rates = [Rate(name: "lagged_events/s", key: "lagged_events_total", perSecond: 1),
                     Rate(name: "lagged_msgs/s", key: "lagged_messages_total", perSecond: 4000)]
        let screen = TopScreen.render(endpoint: "127.0.0.1:7400", stats: figures, rates: rates, rows: aggregate.top(20), now: now)
        #expect(screen == """
        broker 127.0.0.1:7400  version 0.1.0  up 1h 2m 5s
        connections 3  topics 2  subscriptions 4
        lagged events 2 (1.0/s)  lagged msgs 50 (4000/s)

        CLIENT  ADDR             TOPIC  EVENTS  MISSED  MISSED/INT  LAST SEEN
        7       127.0.0.1:40000  flood       1    4000        4000   1.5s ago

        """)
        let empty = TopScreen.render(endpoint: "e:1", stats: figures, rates: [], rows: [], now: now)
        #expect(empty.hasSuffix("CLIENT  ADDR  TOPIC  EVENTS  MISSED  MISSED/INT  LAST SEEN\n(no lagged subscriber seen yet)\n"))
    }
}

@Suite struct BehindTableFormat {
    static let json = Array("""
    {"now":1,"total":3,"offset":0,"limit":2,"sort":"lag","connections":[
     {"id":7,"address":"10.0.0.2:5000","transport":"websocket","protocol":2,"connected_since":1,"bytes_in":1,"bytes_out":2,
      "messages_in":0,"messages_out":3,"pending_bytes":0,"behind":40,"missed":900,"subscriptions":[
       {"pattern":"a.*","group":null,"topics":[{"topic":"a.x","behind":40,"missed":100},{"topic":"a.y","behind":0,"missed":0}]},
       {"pattern":"b","group":"g","topics":[{"topic":"b","behind":0,"missed":800}]}]},
     {"id":2,"address":"10.0.0.1:4000","transport":"tcp","protocol":1,"connected_since":1,"bytes_in":1,"bytes_out":2,
      "messages_in":0,"messages_out":3,"pending_bytes":0,"behind":40,"missed":5,"subscriptions":[
       {"pattern":"c","group":null,"topics":[{"topic":"c","behind":40,"missed":5}]}]}]}
    """.utf8)

    @Test func rowsArePerTopicMostBehindFirstAndQuietTopicsAreLeftOut() throws {
        let page = try #require(BehindPage(json: Self.json))
        #expect(page.totalConnections == 3)
        #expect(page.rows == [
            BehindRow(client: 7, address: "10.0.0.2:5000", transport: "websocket", topic: "a.x", behind: 40, missed: 100),
            BehindRow(client: 2, address: "10.0.0.1:4000", transport: "tcp", topic: "c", behind: 40, missed: 5),
            BehindRow(client: 7, address: "10.0.0.2:5000", transport: "websocket", topic: "b", behind: 0, missed: 800),
        ])
    }

    @Test func theTableSaysWhatItLeftOut() throws {
        let page = try #require(BehindPage(json: Self.json))
        #expect(page.render(limit: 2, looked: 2) == """
            CLIENT  ADDR           TRANSPORT  TOPIC  BEHIND  MISSED
                 7  10.0.0.2:5000  websocket  a.x        40     100
                 2  10.0.0.1:4000  tcp        c          40       5
            (1 more rows)
            (1 more connections not looked at)

            """)
        #expect(BehindPage(totalConnections: 0, rows: []).render(limit: 5, looked: 5) == """
            CLIENT  ADDR  TRANSPORT  TOPIC  BEHIND  MISSED
            (no subscriber behind or missing messages among the 0 most lagged connections)

            """)
    }

    @Test func anythingButTheAPIsShapeIsRefused() {
        #expect(BehindPage(json: Array("{}".utf8)) == nil)
        #expect(BehindPage(json: Array("not json".utf8)) == nil)
        #expect(BehindPage(json: Array(#"{"total":1,"connections":[{"id":1}]}"#.utf8)) == nil)
        #expect(BehindPage.path(limit: 50_000) == "/api/v1/connections?sort=lag&limit=10000")
    }
}
