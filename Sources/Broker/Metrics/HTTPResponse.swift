// HTTP/1.1 responses of the metrics endpoint, and the routing of a request head to one; no I/O.

/// The status codes the metrics endpoint answers with. A value; any thread.
enum HTTPStatus: Int, Sendable {
    case ok = 200
    case badRequest = 400
    case notFound = 404
    case methodNotAllowed = 405
    case requestTimeout = 408
    case upgradeRequired = 426
    case headersTooLarge = 431
    case serviceUnavailable = 503

    /// The reason phrase.
    var reason: String {
        switch self {
        case .ok: "OK"
        case .badRequest: "Bad Request"
        case .notFound: "Not Found"
        case .methodNotAllowed: "Method Not Allowed"
        case .requestTimeout: "Request Timeout"
        case .upgradeRequired: "Upgrade Required"
        case .headersTooLarge: "Request Header Fields Too Large"
        case .serviceUnavailable: "Service Unavailable"
        }
    }
}

/// One complete HTTP/1.1 response. Every response carries `Connection: close`
/// and a `Content-Length`, so the client never has to guess where it ends.
/// A value; any thread.
struct HTTPResponse: Sendable {
    var status: HTTPStatus
    var contentType: String
    var body: String
    /// Extra header fields (`Allow` on a 405).
    var extraHeaders: [(String, String)] = []

    /// A JSON response (`application/json`).
    static func json(_ body: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: .ok, contentType: "application/json", body: String(decoding: body, as: UTF8.self) + "\n")
    }

    /// A plain-text response whose body is the reason phrase (for errors).
    static func plain(_ status: HTTPStatus, _ body: String? = nil) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "text/plain; charset=utf-8", body: (body ?? status.reason) + "\n")
    }

    /// The bytes on the wire.
    var encoded: [UInt8] {
        let bodyBytes = Array(body.utf8)
        var head = "HTTP/1.1 \(status.rawValue) \(status.reason)\r\n"
        head += "Content-Type: \(contentType)\r\n"
        head += "Content-Length: \(bodyBytes.count)\r\n"
        for (name, value) in extraHeaders { head += "\(name): \(value)\r\n" }
        head += "Connection: close\r\n\r\n"
        return Array(head.utf8) + bodyBytes
    }
}

/// The resources the HTTP endpoint serves, and the decision for every other
/// request: `GET` of `/metrics` or `/healthz`, and the WebSocket upgrade at `/ws`.
/// A value; any thread.
enum MetricsRoute: Equatable, Sendable {
    /// `GET /metrics`: the exposition.
    case metrics
    /// `GET /healthz`: `ok`.
    case health
    /// `GET /ws` with a valid WebSocket handshake: switch protocols (RFC 6455).
    case webSocket(key: String)
    /// `GET /api/v1/connections?...`: who is connected and how far behind (JSON).
    case connections(APIQuery)
    /// `GET /api/v1/topics?...`: the topics' figures (JSON).
    case topics(APIQuery)
    /// A known path with a query that cannot be read: 400 with this reason.
    case badQuery(String)
    /// `GET /broker.js`: the JavaScript client.
    case brokerJS
    /// `GET /`: the dashboard.
    case dashboard
    /// `GET /api/v1/stats`: the `STATS` figures (JSON).
    case stats
    /// Anything else: this response.
    case refuse(HTTPStatus)

    /// Routes a parsed head: an unknown path is 404, a known path with another method than GET is 405.
    init(_ head: HTTPRequestHead) {
        let known: MetricsRoute
        switch head.path {
        case "/api/v1/connections", "/api/v1/topics":
            let connections = head.path == "/api/v1/connections"
            switch APIQuery.parse(Substring(head.query), sorts: connections ? ConnectionOrder.keys : TopicOrder.keys) {
            case let .success(parsed): known = connections ? .connections(parsed) : .topics(parsed)
            case let .failure(error): known = .badQuery(error.reason)
            }
        case "/metrics": known = .metrics
        case "/broker.js": known = .brokerJS
        case "/": known = .dashboard
        case "/api/v1/stats": known = .stats
        case "/healthz": known = .health
        case "/ws":
            switch WebSocketUpgrade.decide(head) {
            case let .accept(key): self = .webSocket(key: key)
            case let .refuse(status, _): self = .refuse(status)
            }
            return
        default:
            self = .refuse(.notFound)
            return
        }
        self = head.method == "GET" ? known : .refuse(.methodNotAllowed)
    }
}

/// The content type of the Prometheus text exposition format, version 0.0.4.
let prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"
