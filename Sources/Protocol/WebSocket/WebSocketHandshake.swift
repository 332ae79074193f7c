// The server's half of the RFC 6455 opening handshake: the accept key and the 101 response.

/// The opening handshake (RFC 6455, section 4.2): a client's `Sec-WebSocket-Key` is
/// answered with `Sec-WebSocket-Accept`, the base64 of the SHA-1 of the key and the
/// protocol's GUID.
public enum WebSocketHandshake {
    /// The GUID RFC 6455 appends to the key.
    public static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// Whether `key` is what a client must send: the base64 of 16 bytes (24 characters).
    public static func isValidKey(_ key: String) -> Bool {
        guard let decoded = Base64.decode(key) else { return false }
        return decoded.count == 16
    }

    /// `Sec-WebSocket-Accept` for `key`.
    public static func acceptKey(for key: String) -> String {
        Base64.encode(SHA1.digest(of: Array((key + guid).utf8)))
    }

    /// The `101 Switching Protocols` response for `key`.
    public static func response(for key: String) -> [UInt8] {
        Array(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               + "Sec-WebSocket-Accept: \(acceptKey(for: key))\r\n\r\n").utf8)
    }
}

/// Base64 (RFC 4648, section 4: `+`, `/`, `=` padding): the WebSocket handshake's keys,
/// and `broker-cli sub --json` payloads that are not UTF-8.
public enum Base64 {
    /// The 64 digits, in value order.
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Appends the base64 text of `bytes` (padded with `=` to a multiple of 4 characters).
    public static func append(_ bytes: some Collection<UInt8>, to out: inout [UInt8]) {
        out.reserveCapacity(out.count + (bytes.count + 2) / 3 * 4)
        var iterator = bytes.makeIterator()
        while let first = iterator.next() {
            let second = iterator.next()
            let third = iterator.next()
            let group = UInt32(first) << 16 | UInt32(second ?? 0) << 8 | UInt32(third ?? 0)
            out.append(alphabet[Int(group >> 18 & 0x3F)])
            out.append(alphabet[Int(group >> 12 & 0x3F)])
            out.append(second == nil ? UInt8(ascii: "=") : alphabet[Int(group >> 6 & 0x3F)])
            out.append(third == nil ? UInt8(ascii: "=") : alphabet[Int(group & 0x3F)])
        }
    }

    /// The base64 text of `bytes`.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        append(bytes, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of canonical base64 text (length a multiple of 4, `=` only as padding,
    /// unused bits zero); nil otherwise.
    public static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 4 * 3)
        var index = 0
        while index < chars.count {
            let last = index + 4 == chars.count
            var values: [UInt8] = []
            var padding = 0
            for offset in 0..<4 {
                let c = chars[index + offset]
                if c == UInt8(ascii: "=") {
                    guard last, offset >= 2 else { return nil }
                    padding += 1
                    continue
                }
                guard padding == 0, let value = alphabet.firstIndex(of: c) else { return nil }
                values.append(UInt8(value))
            }
            out.append(values[0] << 2 | values[1] >> 4)
            if values.count > 2 { out.append(values[1] << 4 | values[2] >> 2) } else if values[1] & 0x0F != 0 { return nil }
            if values.count > 3 { out.append(values[2] << 6 | values[3]) } else if values.count == 3, values[2] & 0x03 != 0 { return nil }
            index += 4
        }
        return out
    }
}
