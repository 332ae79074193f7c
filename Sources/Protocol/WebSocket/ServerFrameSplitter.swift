// Where each server frame ends in the broker's output byte stream (for transports that carry one frame per message).
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds the end of the first whole server frame in a stream of them: a reply, `LAGGED` or
/// `BYE` line, a version 1 `MSG` line, or a version 2 sized `MSG` frame (its line, then
/// `<size>` bytes of payload and an LF). The WebSocket transport writes each frame as one
/// WebSocket message (PROTOCOL.md, "Transports").
///
/// Guarantees: for a stream the broker wrote in `version`, the length returned is exactly the
/// first frame's; nil means the stream holds no whole frame yet. Pure; any thread.
public enum ServerFrameSplitter {
    /// The length of the first whole frame of `bytes`, written in protocol `version`, or nil.
    public static func firstFrameLength(in bytes: UnsafeRawBufferPointer, version: Int) -> Int? {
        guard let base = bytes.baseAddress, let newline = memchr(base, 0x0A, bytes.count) else { return nil }
        let lineLength = base.distance(to: UnsafeRawPointer(newline)) + 1
        guard version == 2, lineLength > 4, bytes[0] == UInt8(ascii: "M"), bytes[1] == UInt8(ascii: "S"),
              bytes[2] == UInt8(ascii: "G"), bytes[3] == UInt8(ascii: " ") else { return lineLength }
        // `MSG <topic> <seq> <size>`: the size is the last field of the line.
        var sizeStart = lineLength - 1
        while sizeStart > 0, bytes[sizeStart - 1] != UInt8(ascii: " ") { sizeStart -= 1 }
        var size = 0
        for index in sizeStart..<(lineLength - 1) {
            let digit = Int(bytes[index]) - Int(UInt8(ascii: "0"))
            guard digit >= 0, digit <= 9, size <= (Int.max - 9) / 10 else { return lineLength }  // not a sized frame
            size = size * 10 + digit
        }
        let total = lineLength + size + 1
        return total <= bytes.count ? total : nil
    }
}
