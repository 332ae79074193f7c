// RFC 6455 frames from the server: never masked, so one message's frame can be made once and sent to every client.

/// Server frames (RFC 6455, section 5.2). A server does not mask, so a frame's bytes are
/// the same for every client: a message can be framed once and shared.
public enum WebSocketFrameEncoder {
    /// Opcodes the server sends.
    public static let text: UInt8 = 0x1
    public static let binary: UInt8 = 0x2
    public static let close: UInt8 = 0x8
    public static let pong: UInt8 = 0xA

    /// The most bytes a frame header takes (an unmasked 64-bit length).
    public static let maxHeaderBytes = 10

    /// Appends the header of one final, unmasked frame of `length` payload bytes.
    public static func appendHeader(opcode: UInt8, length: Int, to buffer: inout [UInt8]) {
        buffer.append(0x80 | opcode)
        if length <= 125 {
            buffer.append(UInt8(length))
        } else if length <= 0xFFFF {
            buffer.append(126)
            buffer.append(UInt8(length >> 8))
            buffer.append(UInt8(length & 0xFF))
        } else {
            buffer.append(127)
            for shift in stride(from: 56, through: 0, by: -8) { buffer.append(UInt8(truncatingIfNeeded: UInt64(length) >> UInt64(shift))) }
        }
    }

    /// Writes the header of one final, unmasked frame of `length` payload bytes at `out`,
    /// which has room for ``maxHeaderBytes``; returns the header's length. For the delivery
    /// path: no array, inlined into the caller.
    @inlinable @inline(__always)
    public static func writeHeader(opcode: UInt8, length: Int, to out: UnsafeMutableRawPointer) -> Int {
        out.storeBytes(of: 0x80 | opcode, as: UInt8.self)
        if length <= 125 {
            out.storeBytes(of: UInt8(truncatingIfNeeded: length), toByteOffset: 1, as: UInt8.self)
            return 2
        }
        if length <= 0xFFFF {
            out.storeBytes(of: 126, toByteOffset: 1, as: UInt8.self)
            out.storeBytes(of: UInt16(truncatingIfNeeded: length).bigEndian, toByteOffset: 2, as: UInt16.self)
            return 4
        }
        out.storeBytes(of: 127, toByteOffset: 1, as: UInt8.self)
        out.storeBytes(of: UInt64(truncatingIfNeeded: length).bigEndian, toByteOffset: 2, as: UInt64.self)
        return 10
    }

    /// Appends `payload` as one message: text when it is valid UTF-8, binary otherwise
    /// (PROTOCOL.md, "Transports").
    public static func appendMessage(_ payload: UnsafeRawBufferPointer, to buffer: inout [UInt8]) {
        let isText = UTF8Check.isValid(payload)
        appendHeader(opcode: isText ? text : binary, length: payload.count, to: &buffer)
        buffer.append(contentsOf: payload)
    }

    /// Appends a close frame with `code` and a reason (cut to fit the 125 bytes a control
    /// frame may carry, at a character boundary).
    public static func appendClose(code: UInt16, reason: String, to buffer: inout [UInt8]) {
        var text = Array(reason.utf8.prefix(123))
        while !UTF8Check.isValid(text) { text.removeLast() }  // a character cut by the limit goes whole
        appendHeader(opcode: close, length: 2 + text.count, to: &buffer)
        buffer.append(UInt8(code >> 8))
        buffer.append(UInt8(code & 0xFF))
        buffer.append(contentsOf: text)
    }

    /// Appends the pong answering a ping with `payload` (at most 125 bytes, as the ping's).
    public static func appendPong(_ payload: [UInt8], to buffer: inout [UInt8]) {
        appendHeader(opcode: pong, length: payload.count, to: &buffer)
        buffer.append(contentsOf: payload)
    }
}
