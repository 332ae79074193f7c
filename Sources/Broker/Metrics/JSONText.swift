// A small JSON writer for the HTTP API: objects, arrays, strings escaped, numbers as they are.

/// Appends JSON text to a byte buffer. The caller writes the structure (commas included);
/// this escapes strings (RFC 8259: `"`, `\`, and control bytes as `\u00XX`; bytes that are
/// not UTF-8 become U+FFFD) and writes numbers. A value; any thread.
struct JSONText {
    private(set) var bytes: [UInt8] = []

    mutating func raw(_ text: String) { bytes.append(contentsOf: text.utf8) }

    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": raw("\\\"")
            case "\\": raw("\\\\")
            case "\n": raw("\\n")
            case "\r": raw("\\r")
            case "\t": raw("\\t")
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    raw("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                } else {
                    bytes.append(contentsOf: String(scalar).utf8)
                }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// A byte string (a topic, an address) as a JSON string.
    mutating func string(_ value: [UInt8]) { string(String(decoding: value, as: UTF8.self)) }

    mutating func number(_ value: some BinaryInteger) { raw(String(value)) }

    /// A rate or an average, rounded to a whole number (null when not finite).
    mutating func number(_ value: Double) { raw(value.isFinite ? String(Int64(value.rounded())) : "null") }

    /// `"key":` (the caller writes the value).
    mutating func key(_ name: String) {
        string(name)
        bytes.append(UInt8(ascii: ":"))
    }
}
