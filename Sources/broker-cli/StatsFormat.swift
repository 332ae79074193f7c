// How `stats` shows the broker's figures: an aligned table with human units, a JSON object, rates between two samples.
import BrokerClient

/// Formats STATS replies. Pure functions of their inputs, so tests need no socket.
enum StatsFormat {
    /// Keys whose value is a byte count: shown with a binary unit beside the number.
    static let byteKeys: Set<String> = ["bytes_in_total", "bytes_out_total"]
    /// Keys whose value is a number of seconds: shown as days, hours, minutes, seconds.
    static let durationKeys: Set<String> = ["uptime_s"]

    /// `key  value  (unit)` rows: keys left-aligned, values right-aligned in one column,
    /// the human form of bytes and uptime in parentheses after the raw number.
    static func table(_ stats: BrokerStats) -> String {
        let keyWidth = stats.fields.map(\.key.count).max() ?? 0
        let valueWidth = stats.fields.map(\.value.count).max() ?? 0
        var out = ""
        for field in stats.fields {
            var line = pad(field.key, to: keyWidth) + "  " + padLeft(field.value, to: valueWidth)
            if let number = UInt64(field.value) {
                if byteKeys.contains(field.key) { line += "  (\(bytes(number)))" }
                if durationKeys.contains(field.key) { line += "  (\(duration(seconds: number)))" }
            }
            out += line + "\n"
        }
        return out
    }

    /// One JSON object: values that are whole numbers as numbers, the rest (`version`,
    /// `topic`) as strings; keys in the broker's order.
    static func json(_ stats: BrokerStats, rates: [Rate] = []) -> String {
        var out: [UInt8] = Array("{".utf8)
        for (index, field) in stats.fields.enumerated() {
            if index > 0 { out += Array(", ".utf8) }
            JSONFormat.appendString(field.key.utf8, to: &out)
            out += Array(": ".utf8)
            if field.key != "version", field.key != "topic", let number = UInt64(field.value) {
                out += Array(String(number).utf8)
            } else {
                JSONFormat.appendString(field.value.utf8, to: &out)
            }
        }
        if !rates.isEmpty {
            out += Array(#", "rates": {"#.utf8)
            for (index, rate) in rates.enumerated() {
                if index > 0 { out += Array(", ".utf8) }
                JSONFormat.appendString(rate.name.utf8, to: &out)
                out += Array(": ".utf8)
                out += Array((rate.perSecond.map { formatFixed($0, decimals: 1) } ?? "null").utf8)
            }
            out += Array("}".utf8)
        }
        out += Array("}\n".utf8)
        return String(decoding: out, as: UTF8.self)
    }

    /// `1023 B`, `1.5 KiB`, `12.0 MiB`, ...: one decimal above bytes.
    static func bytes(_ count: UInt64) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        if count < 1024 { return "\(count) B" }
        var value = Double(count) / 1024
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return formatFixed(value, decimals: 1) + " " + units[unit]
    }

    /// `45s`, `2m 5s`, `1h 2m 5s`, `3d 4h 0m 12s`.
    static func duration(seconds: UInt64) -> String {
        let days = seconds / 86_400, hours = seconds / 3600 % 24, minutes = seconds / 60 % 60, rest = seconds % 60
        if days > 0 { return "\(days)d \(hours)h \(minutes)m \(rest)s" }
        if hours > 0 { return "\(hours)h \(minutes)m \(rest)s" }
        if minutes > 0 { return "\(minutes)m \(rest)s" }
        return "\(rest)s"
    }

    /// A per-second rate for a table cell: `-` when unknown, one decimal below 100, whole above.
    static func rate(_ perSecond: Double?) -> String {
        guard let perSecond else { return "-" }
        return formatFixed(perSecond, decimals: perSecond < 100 ? 1 : 0)
    }

    /// A byte rate for a table cell: `-` when unknown, else `bytes(...)` with `/s`.
    static func byteRate(_ perSecond: Double?) -> String {
        guard let perSecond, perSecond >= 0 else { return "-" }
        return bytes(UInt64(perSecond.rounded())) + "/s"
    }

    static func pad(_ text: String, to width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.count))
    }

    static func padLeft(_ text: String, to width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}

/// A counter's growth per second between two STATS samples.
struct Rate: Equatable, Sendable {
    /// The name shown: `published/s`, ...
    var name: String
    /// The counter it is computed from: `published_total`, ...
    var key: String
    /// Growth per second; nil when a sample lacks the counter or it went backwards (a restarted broker).
    var perSecond: Double?

    /// The rates `stats --watch` and `top` show, in their column order.
    static let columns: [(name: String, key: String)] = [
        ("published/s", "published_total"),
        ("delivered/s", "delivered_total"),
        ("lagged_events/s", "lagged_events_total"),
        ("lagged_msgs/s", "lagged_messages_total"),
        ("bytes_in/s", "bytes_in_total"),
        ("bytes_out/s", "bytes_out_total"),
    ]

    /// The rates of `columns` from `previous` to `current`, `elapsed` apart.
    /// All nil when there is no previous sample or no time passed.
    static func between(_ previous: BrokerStats?, _ current: BrokerStats, elapsed: Duration) -> [Rate] {
        let (seconds, attoseconds) = elapsed.components
        let interval = Double(seconds) + Double(attoseconds) / 1e18
        return columns.map { column in
            var perSecond: Double?
            if let previous, interval > 0,
               let before = previous.counter(column.key), let after = current.counter(column.key), after >= before {
                perSecond = Double(after - before) / interval
            }
            return Rate(name: column.name, key: column.key, perSecond: perSecond)
        }
    }
}

/// The lines of `stats --watch`: a header every `headerEvery` lines, then one row per refresh.
struct WatchLines {
    /// Rows printed since the last header.
    private var sinceHeader: Int?
    /// How often the header is repeated.
    let headerEvery: Int

    init(headerEvery: Int = 20) { self.headerEvery = headerEvery }

    /// The column titles and their widths.
    static let columns: [(title: String, width: Int)] = [
        ("conns", 6), ("topics", 7), ("subs", 7), ("published/s", 12), ("delivered/s", 12),
        ("lagged/s", 10), ("lagged_msgs/s", 14), ("in/s", 13), ("out/s", 13),
    ]

    /// The header line.
    static var header: String {
        columns.map { StatsFormat.padLeft($0.title, to: $0.width) }.joined(separator: " ") + "\n"
    }

    /// The header, printed before the first row is due; the next header comes `headerEvery` rows later.
    mutating func start() -> String {
        sinceHeader = 0
        return WatchLines.header
    }

    /// The row for one refresh, preceded by the header when it is due.
    mutating func next(_ stats: BrokerStats, _ rates: [Rate]) -> String {
        var out = ""
        if sinceHeader == nil || sinceHeader == headerEvery {
            out += WatchLines.header
            sinceHeader = 0
        }
        sinceHeader = (sinceHeader ?? 0) + 1
        func rate(_ key: String) -> Double? { rates.first { $0.key == key }?.perSecond }
        let cells = [
            stats["connections"] ?? "-", stats["topics"] ?? "-", stats["subscriptions"] ?? "-",
            StatsFormat.rate(rate("published_total")), StatsFormat.rate(rate("delivered_total")),
            StatsFormat.rate(rate("lagged_events_total")), StatsFormat.rate(rate("lagged_messages_total")),
            StatsFormat.byteRate(rate("bytes_in_total")), StatsFormat.byteRate(rate("bytes_out_total")),
        ]
        out += zip(cells, WatchLines.columns).map { StatsFormat.padLeft($0, to: $1.width) }.joined(separator: " ") + "\n"
        return out
    }
}
