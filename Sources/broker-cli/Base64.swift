// Base64 (RFC 4648, standard alphabet, with padding) for `sub --json` payloads that are not UTF-8.

/// Encodes bytes as base64 straight into an output buffer.
enum Base64 {
    /// The 64 digits, in value order.
    private static let digits: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Appends the base64 text of `bytes` (padded with `=` to a multiple of 4 characters).
    static func append(_ bytes: some Collection<UInt8>, to out: inout [UInt8]) {
        out.reserveCapacity(out.count + (bytes.count + 2) / 3 * 4)
        var iterator = bytes.makeIterator()
        while let first = iterator.next() {
            let second = iterator.next()
            let third = iterator.next()
            let group = UInt32(first) << 16 | UInt32(second ?? 0) << 8 | UInt32(third ?? 0)
            out.append(digits[Int(group >> 18 & 0x3F)])
            out.append(digits[Int(group >> 12 & 0x3F)])
            out.append(second == nil ? UInt8(ascii: "=") : digits[Int(group >> 6 & 0x3F)])
            out.append(third == nil ? UInt8(ascii: "=") : digits[Int(group & 0x3F)])
        }
    }

    /// The base64 text of `bytes`.
    static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        append(bytes, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
