// What `top` shows: `$SYS.lagged` payloads parsed, summed per (client, addr, topic), sorted and drawn as a table.
import BrokerClient

/// One `$SYS.lagged` message: `topic=<t> client=<id> addr=<ip:port> missed=<n>`.
struct LagReport: Equatable, Sendable {
    /// The concrete topic the subscription lagged on.
    var topic: String
    /// The broker's id for the connection (as in its log lines).
    var client: String
    /// The client's address as the broker sees it.
    var addr: String
    /// Messages dropped for it in this report.
    var missed: UInt64

    /// Parses the payload; nil when a field is missing or `missed` is not a number.
    /// Unknown extra fields are ignored, so a broker may add some.
    init?(payload: some StringProtocol) {
        guard let fields = BrokerStats(parsing: payload),
              let topic = fields["topic"], let client = fields["client"], let addr = fields["addr"],
              let missed = fields.counter("missed"), !topic.isEmpty, !client.isEmpty else { return nil }
        self.init(topic: topic, client: client, addr: addr, missed: missed)
    }

    init(topic: String, client: String, addr: String, missed: UInt64) {
        self.topic = topic
        self.client = client
        self.addr = addr
        self.missed = missed
    }
}

/// The lag seen per subscriber and topic since `top` started.
struct LagAggregate {
    /// Identifies one row: a connection (id and address) lagging on one topic.
    struct Key: Hashable, Sendable {
        var client: String
        var addr: String
        var topic: String
    }

    /// One row's figures.
    struct Row: Equatable, Sendable {
        var key: Key
        /// `$SYS.lagged` reports received.
        var events: UInt64 = 0
        /// Messages missed in total.
        var missed: UInt64 = 0
        /// Messages missed since the last ``endInterval()``.
        var missedThisInterval: UInt64 = 0
        /// When the last report came, on the monotonic clock.
        var lastSeen: ContinuousClock.Instant
    }

    /// Every row, by key.
    private(set) var rows: [Key: Row] = [:]

    /// Counts one report, received at `time`.
    mutating func add(_ report: LagReport, at time: ContinuousClock.Instant) {
        let key = Key(client: report.client, addr: report.addr, topic: report.topic)
        var row = rows[key] ?? Row(key: key, lastSeen: time)
        row.events += 1
        row.missed &+= report.missed
        row.missedThisInterval &+= report.missed
        row.lastSeen = time
        rows[key] = row
    }

    /// The rows, most missed in the last interval first, then most missed in total,
    /// then by client, address and topic so the order is stable; at most `limit`.
    func top(_ limit: Int) -> [Row] {
        let sorted = rows.values.sorted { a, b in
            if a.missedThisInterval != b.missedThisInterval { return a.missedThisInterval > b.missedThisInterval }
            if a.missed != b.missed { return a.missed > b.missed }
            return (a.key.client, a.key.addr, a.key.topic) < (b.key.client, b.key.addr, b.key.topic)
        }
        return Array(sorted.prefix(limit))
    }

    /// Starts a new interval: every row's `missedThisInterval` back to 0.
    mutating func endInterval() {
        for key in rows.keys { rows[key]?.missedThisInterval = 0 }
    }
}

/// Draws one refresh of `top`.
enum TopScreen {
    /// The header lines (from STATS and its rates), then the table of rows.
    static func render(endpoint: String, stats: BrokerStats, rates: [Rate], rows: [LagAggregate.Row],
                       now: ContinuousClock.Instant) -> String {
        header(endpoint: endpoint, stats: stats, rates: rates) + lagTable(rows, now: now)
    }

    /// The lines above the table: the broker, and the STATS figures with their rates.
    static func header(endpoint: String, stats: BrokerStats, rates: [Rate]) -> String {
        func rate(_ key: String) -> String { StatsFormat.rate(rates.first { $0.key == key }?.perSecond) }
        var out = "broker \(endpoint)"
        if let version = stats["version"] { out += "  version \(version)" }
        if let uptime = stats.counter("uptime_s") { out += "  up \(StatsFormat.duration(seconds: uptime))" }
        out += "\n"
        out += "connections \(stats["connections"] ?? "-")  topics \(stats["topics"] ?? "-")"
            + "  subscriptions \(stats["subscriptions"] ?? "-")\n"
        out += "lagged events \(stats["lagged_events_total"] ?? "-") (\(rate("lagged_events_total"))/s)"
            + "  lagged msgs \(stats["lagged_messages_total"] ?? "-") (\(rate("lagged_messages_total"))/s)\n"
        out += "\n"
        return out
    }

    /// The table of the `$SYS.lagged` reports.
    private static func lagTable(_ rows: [LagAggregate.Row], now: ContinuousClock.Instant) -> String {
        let cells = rows.map { row in
            [row.key.client, row.key.addr, row.key.topic, String(row.events), String(row.missed),
             String(row.missedThisInterval), age(row.lastSeen.duration(to: now)) + " ago"]
        }
        return TextTable.render(titles: ["CLIENT", "ADDR", "TOPIC", "EVENTS", "MISSED", "MISSED/INT", "LAST SEEN"],
                                rows: cells, rightAligned: [3, 4, 5, 6], empty: "(no lagged subscriber seen yet)")
    }

    /// `0.4s`, `12s`, `3m 5s`: how long ago something was seen.
    static func age(_ elapsed: Duration) -> String {
        let seconds = max(0, elapsed.components.seconds)
        if seconds < 10 {
            let tenths = Double(elapsed.components.attoseconds) / 1e18 + Double(seconds)
            return formatFixed(max(0, tenths), decimals: 1) + "s"
        }
        return StatsFormat.duration(seconds: UInt64(seconds))
    }
}

/// A table of text in aligned columns: text left-aligned, the columns named numbers right-aligned.
enum TextTable {
    /// The title line, then one line per row (or `empty` when there is none).
    static func render(titles: [String], rows: [[String]], rightAligned: Set<Int>, empty: String) -> String {
        var widths = titles.map(\.count)
        for line in rows { for (index, cell) in line.enumerated() { widths[index] = max(widths[index], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                rightAligned.contains(index) ? StatsFormat.padLeft(cell, to: widths[index]) : StatsFormat.pad(cell, to: widths[index])
            }.joined(separator: "  ") + "\n"
        }
        var out = line(titles)
        if rows.isEmpty { out += empty + "\n" }
        for row in rows { out += line(row) }
        return out
    }
}
