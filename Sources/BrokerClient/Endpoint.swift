// Where a broker listens: host and port, parsed from `host:port`, `[v6]:port`, `tls://host:port` or `ws[s]://host:port/path` and shown the same way.

/// A broker's address as the user gave it: a host name or IP literal, a TCP port, and for a
/// WebSocket (PROTOCOL.md, "Transports") the path of the upgrade on the broker's HTTP port.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    /// A host name, IPv4 literal or IPv6 literal (without brackets).
    public var host: String
    /// The TCP port.
    public var port: UInt16
    /// The path of the WebSocket upgrade (`/ws` on the broker); nil: plain TCP.
    public var webSocketPath: String?

    /// The broker's default address, `127.0.0.1:7400`.
    public static let `default` = Endpoint(host: "127.0.0.1", port: 7400)

    /// TLS to the broker (`tls://`, `wss://`, or `--tls`); nil: plaintext.
    public var tls: TLSClientOptions?

    public init(host: String, port: UInt16, webSocketPath: String? = nil, tls: TLSClientOptions? = nil) {
        self.host = host
        self.port = port
        self.webSocketPath = webSocketPath
        self.tls = tls
    }

    /// Parses `host:port`, `[ipv6]:port` (brackets required for IPv6), or either after
    /// `ws://` for a WebSocket, with a path (`/ws` when none is given). Nil when malformed.
    /// `tls://host:port` is the line protocol over TLS, `wss://host:port/path` a WebSocket over
    /// TLS (both verified against the system's CAs unless options are set later).
    public init?(parsing text: String) {
        if text.hasPrefix("tls://") {
            guard var endpoint = Endpoint(parsing: String(text.dropFirst(6))), endpoint.webSocketPath == nil else { return nil }
            endpoint.tls = TLSClientOptions()
            self = endpoint
            return
        }
        if text.hasPrefix("wss://") {
            guard var endpoint = Endpoint(parsing: "ws://" + text.dropFirst(6)) else { return nil }
            endpoint.tls = TLSClientOptions()
            self = endpoint
            return
        }
        if text.hasPrefix("ws://") {
            let rest = text.dropFirst(5)
            let slash = rest.firstIndex(of: "/") ?? rest.endIndex
            let path = rest[slash...]
            guard path.allSatisfy({ $0.isASCII && $0 != " " && !$0.isNewline }),
                  var endpoint = Endpoint(parsing: String(rest[..<slash])) else { return nil }
            endpoint.webSocketPath = path.isEmpty ? "/ws" : String(path)
            self = endpoint
            return
        }
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            guard !host.contains(":") else { return nil }  // a bare IPv6 literal is ambiguous
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Endpoint.parsePort(portText) else { return nil }
        self.init(host: String(host), port: port)
    }

    /// A decimal port 1...65535 (0 is refused: a client cannot connect to it). Nil otherwise.
    public static func parsePort(_ text: some StringProtocol) -> UInt16? {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy({ $0.isASCII && $0.isNumber }),
              let value = Int(text), value >= 1, value <= 65535 else { return nil }
        return UInt16(value)
    }

    /// `host:port`, with brackets around an IPv6 literal: `[::1]:7400`; after `ws://` and
    /// followed by the path for a WebSocket: `ws://127.0.0.1:8080/ws`.
    public var description: String {
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        guard let webSocketPath else { return tls == nil ? address : "tls://\(address)" }
        return "\(tls == nil ? "ws" : "wss")://\(address)\(webSocketPath)"
    }
}
