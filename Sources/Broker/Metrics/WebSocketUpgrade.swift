// Whether an HTTP request may become a WebSocket connection (RFC 6455, 4.2.1), decided from its head alone.
import Protocol

/// The server's decision on an opening handshake, made from the request head alone
/// (the transport that follows it is ``WebSocketSession``).
enum WebSocketUpgrade {
    /// What to answer.
    enum Decision: Equatable, Sendable {
        /// Switch protocols: answer ``WebSocketHandshake/response(for:)`` with this key.
        case accept(key: String)
        /// Refuse with this status and reason (426 carries `Sec-WebSocket-Version: 13`).
        case refuse(HTTPStatus, String)
    }

    /// RFC 6455, 4.2.1: `GET` over HTTP/1.1 (one `Host`, checked by the reader), `Upgrade`
    /// naming `websocket` and `Connection` naming `Upgrade` (tokens, any case, in lists),
    /// a `Sec-WebSocket-Key` that is the base64 of 16 bytes, and `Sec-WebSocket-Version: 13`.
    static func decide(_ head: HTTPRequestHead) -> Decision {
        guard head.method == "GET" else { return .refuse(.methodNotAllowed, "a WebSocket handshake is a GET") }
        guard head.version == "HTTP/1.1" else { return .refuse(.badRequest, "a WebSocket handshake needs HTTP/1.1") }
        let fields = head.upgrade
        guard hasToken("websocket", in: fields.upgrade) else { return .refuse(.upgradeRequired, "Upgrade: websocket is missing") }
        guard hasToken("upgrade", in: fields.connection) else { return .refuse(.badRequest, "Connection: Upgrade is missing") }
        guard fields.webSocketVersion == "13" else { return .refuse(.upgradeRequired, "Sec-WebSocket-Version must be 13") }
        guard let key = fields.webSocketKey, WebSocketHandshake.isValidKey(key) else {
            return .refuse(.badRequest, "Sec-WebSocket-Key is not the base64 of 16 bytes")
        }
        return .accept(key: key)
    }

    /// Whether the comma-separated list `value` holds `token` (compared without case).
    static func hasToken(_ token: String, in value: String?) -> Bool {
        guard let value else { return false }
        return value.split(separator: ",").contains { $0.trimmingSpaces.lowercased() == token }
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return text
    }
}
