// A strict, incremental HTTP/1.x request-head reader for the metrics endpoint; no I/O.

/// The parts of a request head the metrics endpoint looks at. A value; any thread.
struct HTTPRequestHead: Sendable, Equatable {
    /// The method token as sent (`GET`); methods are case-sensitive in HTTP.
    var method: String
    /// The path of the request target, without its query (`/metrics`).
    var path: String
    /// `HTTP/1.0` or `HTTP/1.1`.
    var version: String
    /// The query of the request target, after its `?` (empty when none).
    var query: String = ""
    /// The fields a WebSocket upgrade is decided on (RFC 6455, 4.2.1), as sent (a field
    /// sent more than once: its values joined with `, `); nil when absent.
    var upgrade: HTTPUpgradeFields = HTTPUpgradeFields()
}

/// The header fields of an upgrade request (see ``WebSocketUpgrade``). A value; any thread.
struct HTTPUpgradeFields: Sendable, Equatable {
    var upgrade: String?
    var connection: String?
    var webSocketKey: String?
    var webSocketVersion: String?

    /// Keeps `value` when `name` (lower case) is one of these fields.
    mutating func take(_ name: String, _ value: String) {
        func joined(_ old: String?) -> String { old.map { $0 + ", " + value } ?? value }
        switch name {
        case "upgrade": upgrade = joined(upgrade)
        case "connection": connection = joined(connection)
        case "sec-websocket-key": webSocketKey = joined(webSocketKey)
        case "sec-websocket-version": webSocketVersion = joined(webSocketVersion)
        default: break
        }
    }
}

/// Why a request head was refused; each maps to one status code. A value; any thread.
enum HTTPRequestError: Error, Sendable, Equatable {
    /// The head broke the grammar of RFC 9112 as this reader applies it (400).
    case malformed(String)
    /// The request line and headers passed the byte limit (431).
    case tooLarge

    /// The response status for this error.
    var status: HTTPStatus {
        switch self {
        case .malformed: .badRequest
        case .tooLarge: .headersTooLarge
        }
    }
}

/// The outcome of feeding bytes to an ``HTTPRequestReader``. A value; any thread.
enum HTTPReadResult: Sendable, Equatable {
    /// The head is not complete yet; feed more bytes.
    case needMore
    /// The head is complete and well-formed.
    case complete(HTTPRequestHead)
    /// The head is refused; answer with `error.status` and close.
    case failed(HTTPRequestError)
}

/// Reads one HTTP/1.x request head (request line and header fields, up to the
/// empty line) from bytes fed in pieces of any size.
///
/// Guarantees: it holds at most `maxHeadBytes` bytes; once it has returned
/// `.complete` or `.failed`, every later `feed` returns the same result and
/// reads nothing. Strict on purpose: every line must end with CRLF; the request
/// line is `token SP origin-form SP HTTP/1.0|1.1`; header names are tokens
/// followed directly by `:`; values hold no control bytes but HTAB; folded
/// lines (obs-fold) are refused; HTTP/1.1 needs exactly one `Host` field.
/// Bytes after the empty line (a body) are not looked at.
///
/// Not thread-safe: one owner (the metrics thread, or a test).
struct HTTPRequestReader: Sendable {
    /// The most bytes the request line and headers (with their CRLFs) may take.
    let maxHeadBytes: Int
    /// The head received so far.
    private var bytes: [UInt8] = []
    /// The final result, once there is one.
    private var result: HTTPReadResult?
    /// Bytes of the last chunk fed that came after the head (a body, or an upgraded
    /// protocol's first bytes), once the head is complete.
    private(set) var leftover: [UInt8] = []

    init(maxHeadBytes: Int = 8192) {
        self.maxHeadBytes = maxHeadBytes
    }

    /// Feeds the next bytes of the connection.
    mutating func feed(_ chunk: some Collection<UInt8>) -> HTTPReadResult {
        if let result { return result }
        var taken = 0
        for byte in chunk {
            taken += 1
            // A line ending other than CRLF is refused at once, not when the head would end.
            let previous = bytes.last
            if (byte == 0x0A && previous != 0x0D) || (previous == 0x0D && byte != 0x0A) {
                result = .failed(.malformed("a line does not end with CRLF"))
                return .failed(.malformed("a line does not end with CRLF"))
            }
            bytes.append(byte)
            if let end = headEnd() {
                let parsed = Self.parse(bytes[..<end])
                leftover = Array(chunk.dropFirst(taken))
                result = parsed
                return parsed
            }
            if bytes.count >= maxHeadBytes {
                // Not done and at the limit: the next byte cannot make it fit.
                result = .failed(.tooLarge)
                return .failed(.tooLarge)
            }
        }
        return .needMore
    }

    /// The index just past the head's CRLF CRLF, when the last byte completed it.
    private mutating func headEnd() -> Int? {
        let count = bytes.count
        guard count >= 4, bytes[count - 1] == 0x0A else { return nil }
        if bytes[count - 2] == 0x0D, bytes[count - 3] == 0x0A, bytes[count - 4] == 0x0D { return count }
        return nil
    }

    // MARK: - Grammar

    private static func parse(_ head: ArraySlice<UInt8>) -> HTTPReadResult {
        // Split at CRLF; a CR or LF anywhere else is malformed.
        var lines: [ArraySlice<UInt8>] = []
        var lineStart = head.startIndex
        var index = head.startIndex
        while index < head.endIndex {
            let byte = head[index]
            if byte == 0x0D {
                guard index + 1 < head.endIndex, head[index + 1] == 0x0A else { return .failed(.malformed("CR without LF")) }
                lines.append(head[lineStart..<index])
                index += 2
                lineStart = index
                continue
            }
            if byte == 0x0A { return .failed(.malformed("LF without CR")) }
            index += 1
        }
        // The head ends with CRLF CRLF, so the last line is the empty one.
        guard lines.count >= 2, let requestLine = lines.first, lines.last?.isEmpty == true else {
            return .failed(.malformed("no request line"))
        }
        var head: HTTPRequestHead
        switch parseRequestLine(requestLine) {
        case let .success(parsed): head = parsed
        case let .failure(error): return .failed(error)
        }
        var hostFields = 0
        for line in lines.dropFirst().dropLast() {
            switch parseHeaderField(line) {
            case let .success((name, value)):
                if name == "host" { hostFields += 1 }
                head.upgrade.take(name, value)
            case let .failure(error):
                return .failed(error)
            }
        }
        if head.version == "HTTP/1.1" && hostFields != 1 { return .failed(.malformed("HTTP/1.1 needs exactly one Host field")) }
        if hostFields > 1 { return .failed(.malformed("more than one Host field")) }
        return .complete(head)
    }

    private static func parseRequestLine(_ line: ArraySlice<UInt8>) -> Result<HTTPRequestHead, HTTPRequestError> {
        let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return .failure(.malformed("request line is not: method SP target SP version")) }
        let method = parts[0], target = parts[1], version = parts[2]
        guard !method.isEmpty, method.allSatisfy(isTokenByte) else { return .failure(.malformed("bad method")) }
        guard target.first == 0x2F, target.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return .failure(.malformed("the target is not an absolute path"))
        }
        let versionText = String(decoding: version, as: UTF8.self)
        guard versionText == "HTTP/1.1" || versionText == "HTTP/1.0" else { return .failure(.malformed("unsupported version")) }
        let pieces = target.split(separator: 0x3F, maxSplits: 1, omittingEmptySubsequences: false)
        let path = pieces.first ?? target
        return .success(HTTPRequestHead(method: String(decoding: method, as: UTF8.self),
                                        path: String(decoding: path, as: UTF8.self), version: versionText,
                                        query: pieces.count > 1 ? String(decoding: pieces[1], as: UTF8.self) : ""))
    }

    /// Checks one field line; returns its name in lower case and its value without the
    /// surrounding spaces and tabs.
    private static func parseHeaderField(_ line: ArraySlice<UInt8>) -> Result<(String, String), HTTPRequestError> {
        guard let colon = line.firstIndex(of: 0x3A) else { return .failure(.malformed("header field without a colon")) }
        let name = line[line.startIndex..<colon]
        // An empty name also catches obs-fold (a line starting with SP or HTAB), which a token cannot hold.
        guard !name.isEmpty, name.allSatisfy(isTokenByte) else { return .failure(.malformed("bad header field name")) }
        let value = line[(colon + 1)...]
        guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
            return .failure(.malformed("control byte in a header field value"))
        }
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
        let trimmed = value.drop(while: isSpace).reversed().drop(while: isSpace).reversed()
        return .success((String(decoding: name, as: UTF8.self).lowercased(), String(decoding: trimmed, as: UTF8.self)))
    }

    /// RFC 9110 `tchar`.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
        default: false
        }
    }
}
