// A small JSON writer for the HTTP API: objects and arrays with their commas, strings escaped, numbers as they are.

/// Writes JSON text into a byte buffer. Containers are opened and closed by the caller; the
/// writer puts the commas between values and after keys. Strings are escaped (RFC 8259: `"`,
/// `\`, and control bytes as `\u00XX`; bytes that are not UTF-8 become U+FFFD). A value; any thread.
struct JSONText {
    private(set) var bytes: [UInt8] = []
    /// Values written so far in each open container, innermost last.
    private var counts: [Int] = []
    /// Whether a key was just written (its value takes no comma).
    private var afterKey = false

    mutating func openObject() { beginValue(); bytes.append(UInt8(ascii: "{")); counts.append(0) }
    mutating func closeObject() { bytes.append(UInt8(ascii: "}")); counts.removeLast() }
    mutating func openArray() { beginValue(); bytes.append(UInt8(ascii: "[")); counts.append(0) }
    mutating func closeArray() { bytes.append(UInt8(ascii: "]")); counts.removeLast() }

    /// `"name":` (the value follows).
    mutating func key(_ name: String) {
        beginValue()
        append(escaped: name)
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    mutating func string(_ text: String) { beginValue(); append(escaped: text) }
    /// A byte string (a topic, an address) as a JSON string.
    mutating func string(_ value: [UInt8]) { string(String(decoding: value, as: UTF8.self)) }
    mutating func number(_ value: some BinaryInteger) { beginValue(); bytes.append(contentsOf: String(value).utf8) }
    /// A rate or an average, rounded to a whole number (null when not finite).
    mutating func number(_ value: Double) {
        guard value.isFinite else { return null() }
        number(Int64(value.rounded()))
    }
    mutating func null() { beginValue(); bytes.append(contentsOf: "null".utf8) }

    /// `"name":value`.
    mutating func field(_ name: String, _ value: some BinaryInteger) { key(name); number(value) }
    mutating func field(_ name: String, _ value: String) { key(name); string(value) }
    mutating func field(_ name: String, _ value: [UInt8]) { key(name); string(value) }

    private mutating func beginValue() {
        if afterKey {
            afterKey = false
            return
        }
        guard let last = counts.indices.last else { return }
        if counts[last] > 0 { bytes.append(UInt8(ascii: ",")) }
        counts[last] += 1
    }

    private mutating func append(escaped text: String) {
        bytes.append(UInt8(ascii: "\""))
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": bytes.append(contentsOf: "\\\"".utf8)
            case "\\": bytes.append(contentsOf: "\\\\".utf8)
            case "\n": bytes.append(contentsOf: "\\n".utf8)
            case "\r": bytes.append(contentsOf: "\\r".utf8)
            case "\t": bytes.append(contentsOf: "\\t".utf8)
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                bytes.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8)
            default:
                bytes.append(contentsOf: String(scalar).utf8)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
