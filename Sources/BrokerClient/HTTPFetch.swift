// One HTTP/1.1 GET to the broker's HTTP port (its JSON API), read to the end: no package, no keep-alive.
import Posix

/// Reads one resource from a broker's HTTP port (`/api/v1/connections` and the like).
///
/// The broker answers every request with `Connection: close`, so the body is what follows
/// the response head until the end of the connection (or `Content-Length` bytes when given).
/// Guarantees: one connection per call, closed before it returns; the whole exchange takes at
/// most `timeout`; a response over ``maxResponseBytes`` is refused, not truncated.
public enum HTTPFetch {
    /// The largest response read (the API's pages are bounded well below it).
    public static let maxResponseBytes = 64 << 20

    /// `GET path` on `endpoint` (its host and port; a WebSocket path is ignored). Returns the
    /// status code and the body. Throws what connecting throws, ``BrokerClientError/timedOut(_:)``,
    /// or ``BrokerClientError/protocolViolation(_:)`` for a response that is not HTTP/1.x.
    public static func get(_ endpoint: Endpoint, path: String, timeout: Duration) throws(BrokerClientError) -> (status: Int, body: [UInt8]) {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var plain = endpoint
        plain.webSocketPath = nil
        let socket = try ConnectionSocket.connect(to: plain, timeout: timeout)
        defer { socket.shutdown() }
        let host = endpoint.host.contains(":") ? "[\(endpoint.host)]" : endpoint.host
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host):\(endpoint.port)\r\nConnection: close\r\n\r\n".utf8)
        let sent: Result<Void, BrokerClientError> = request.withUnsafeBytes { bytes in
            Result { () throws(BrokerClientError) in try socket.writeAll(bytes) }
        }
        try sent.get()
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let outcome: Result<IOResult<Int>, BrokerClientError> = chunk.withUnsafeMutableBytes { buffer in
                Result { () throws(BrokerClientError) in try socket.read(into: buffer) }
            }
            switch try outcome.get() {
            case .done(0):
                return try parse(response)
            case let .done(count):
                response += chunk[0..<count]
                guard response.count <= maxResponseBytes else { throw .protocolViolation("an HTTP response over \(maxResponseBytes) bytes") }
                if let complete = try? parse(response, requireWhole: true) { return complete }
            case .wouldBlock:
                if try socket.wait(for: .readable, until: deadline).isEmpty { throw .timedOut("GET \(path)") }
            }
        }
    }

    /// The status and body of a response. With `requireWhole`, throws unless the head and
    /// `Content-Length` bytes of body are there.
    static func parse(_ response: [UInt8], requireWhole: Bool = false) throws(BrokerClientError) -> (status: Int, body: [UInt8]) {
        guard let headEnd = findHeadEnd(response) else { throw .protocolViolation("an HTTP response without a complete head") }
        let head = String(decoding: response[..<headEnd], as: UTF8.self).split(separator: "\r\n")
        let statusParts = head.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw .protocolViolation("not an HTTP response: \(head.first.map(String.init) ?? "")")
        }
        var body = Array(response[(headEnd + 4)...])
        let length = head.dropFirst().compactMap { line -> Int? in
            guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == "content-length" else { return nil }
            return Int(line[line.index(after: colon)...].trimmingCharacters(in: " \t"))
        }.first
        if let length {
            if body.count < length {
                if requireWhole { throw .protocolViolation("a short body") }
                throw .protocolViolation("the body ended after \(body.count) of \(length) bytes")
            }
            body = Array(body.prefix(length))
        } else if requireWhole {
            throw .protocolViolation("a body without a length, read to the end")
        }
        return (status, body)
    }

    /// Where a response head ends (the index of its `\r\n\r\n`), if it has.
    static func findHeadEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4) where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index
        }
        return nil
    }
}

extension Substring {
    /// Without the given characters at either end.
    func trimmingCharacters(in set: String) -> Substring {
        var text = self
        while let first = text.first, set.contains(first) { text = text.dropFirst() }
        while let last = text.last, set.contains(last) { text = text.dropLast() }
        return text
    }
}
