// `/api/v1/stats`: the STATS line's figures as JSON.

enum StatsAPI {
    /// `key=value ...` (the `STATS` reply) as one JSON object: numbers as numbers, the rest as strings.
    static func render(_ line: String) -> [UInt8] {
        var json = JSONText()
        json.openObject()
        for field in line.split(separator: " ") {
            guard let equals = field.firstIndex(of: "=") else { continue }
            let name = String(field[..<equals])
            let value = field[field.index(after: equals)...]
            if let number = UInt64(value) { json.field(name, number) } else { json.field(name, String(value)) }
        }
        json.closeObject()
        return json.bytes
    }
}
