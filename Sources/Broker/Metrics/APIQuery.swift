// The query of the JSON API's lists: `limit`, `offset` and `sort`, as NATS's monitoring endpoints take them.

/// `?limit=N&offset=M&sort=KEY` of `/api/v1/connections` and `/api/v1/topics`.
///
/// Guarantees: ``parse(_:sorts:)`` accepts `limit` 1 to ``maxLimit`` (default
/// ``defaultLimit``), `offset` 0 or more, `sort` one of the given keys (default the first),
/// each at most once, and nothing else; anything else is the reason for a 400.
struct APIQuery: Equatable, Sendable {
    static let defaultLimit = 100
    static let maxLimit = 10_000

    var limit = APIQuery.defaultLimit
    var offset = 0
    var sort: String

    /// The query of `target` (the request's path and query), or why it is refused.
    static func parse(_ query: Substring, sorts: [String]) -> Result<APIQuery, APIQueryError> {
        var result = APIQuery(sort: sorts[0])
        var seen: Set<Substring> = []
        for pair in query.split(separator: "&") {
            guard let equals = pair.firstIndex(of: "=") else { return .failure(APIQueryError("'\(pair)' is not key=value")) }
            let key = pair[..<equals]
            let value = pair[pair.index(after: equals)...]
            guard seen.insert(key).inserted else { return .failure(APIQueryError("\(key) is given twice")) }
            switch key {
            case "limit":
                guard let number = Int(value), number >= 1, number <= maxLimit, value.allSatisfy(\.isASCIIDigit) else {
                    return .failure(APIQueryError("limit must be 1 to \(maxLimit)"))
                }
                result.limit = number
            case "offset":
                guard let number = Int(value), number >= 0, value.allSatisfy(\.isASCIIDigit) else {
                    return .failure(APIQueryError("offset must be a number from 0"))
                }
                result.offset = number
            case "sort":
                guard sorts.contains(String(value)) else { return .failure(APIQueryError("sort must be one of \(sorts.joined(separator: ", "))")) }
                result.sort = String(value)
            default:
                return .failure(APIQueryError("unknown parameter \(key) (limit, offset and sort are known)"))
            }
        }
        return .success(result)
    }
}

/// Why a query was refused (the text of the 400).
struct APIQueryError: Error, Equatable, Sendable {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

extension APIQuery {
    /// A page of the JSON API: `now`, `total`, this query's `offset`, `limit` and `sort`, then
    /// the array under `key`, whose elements `items` writes. The one envelope of
    /// `/api/v1/connections` and `/api/v1/topics`.
    func page(_ key: String, total: Int, nowUnixMs: Int64, _ items: (inout JSONText) -> Void) -> [UInt8] {
        var json = JSONText()
        json.openObject()
        json.field("now", nowUnixMs)
        json.field("total", total)
        json.field("offset", offset)
        json.field("limit", limit)
        json.field("sort", sort)
        json.key(key)
        json.openArray()
        items(&json)
        json.closeArray()
        json.closeObject()
        return json.bytes
    }
}
