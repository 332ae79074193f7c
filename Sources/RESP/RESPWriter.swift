// Writing Redis commands: an array of bulk strings, whatever bytes they hold.

/// Encodes commands the way every Redis client sends them (the "unified request
/// protocol"): `*<n>\r\n` then `$<len>\r\n<bytes>\r\n` per argument. Binary-safe;
/// nothing is validated or escaped. Appends to a buffer the caller owns.
public enum RESPWriter {
    /// Appends one command of `arguments` (the command's name first).
    public static func appendCommand(_ arguments: [[UInt8]], to buffer: inout [UInt8]) {
        appendHeader(UInt8(ascii: "*"), arguments.count, to: &buffer)
        for argument in arguments { appendBulk(argument, to: &buffer) }
    }

    /// ``appendCommand(_:to:)`` for arguments written as text.
    public static func appendCommand(_ arguments: [String], to buffer: inout [UInt8]) {
        appendHeader(UInt8(ascii: "*"), arguments.count, to: &buffer)
        for argument in arguments { appendBulk(Array(argument.utf8), to: &buffer) }
    }

    /// Appends `$<len>\r\n<bytes>\r\n`.
    public static func appendBulk(_ bytes: some Collection<UInt8>, to buffer: inout [UInt8]) {
        appendHeader(UInt8(ascii: "$"), bytes.count, to: &buffer)
        buffer.append(contentsOf: bytes)
        buffer.append(0x0D)
        buffer.append(0x0A)
    }

    /// Appends `<kind><count>\r\n`.
    static func appendHeader(_ kind: UInt8, _ count: Int, to buffer: inout [UInt8]) {
        buffer.append(kind)
        appendDecimal(count, to: &buffer)
        buffer.append(0x0D)
        buffer.append(0x0A)
    }

    /// Appends a non-negative number's digits.
    static func appendDecimal(_ value: Int, to buffer: inout [UInt8]) {
        var digits: [UInt8] = []
        var rest = max(0, value)
        repeat {
            digits.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
        } while rest > 0
        buffer.append(contentsOf: digits.reversed())
    }
}
