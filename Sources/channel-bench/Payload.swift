/// One message of `P` bytes, the counterpart of tokio's `Arc<[u8]>`: a class
/// instance, allocated fresh per message, copied for a receiver with one
/// retain. Up to 64 bytes (the benchmark's P) live inline in the object, so a
/// message is ONE heap allocation (88 bytes with the object header, versus
/// 80 for tokio's `Arc<[u8]>` of 64 bytes); larger payloads put the rest in a
/// second allocation. Bytes 0..8 hold the sequence number little-endian; byte
/// i (i >= 8) is `i as UInt8`. Immutable, hence `Sendable`.
final class Payload: Sendable {
    typealias Words = (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    let size: Int
    let inline: Words
    let extra: [UInt8]?

    /// The fixed pattern of bytes 8..<64, packed little-endian into 7 words.
    private static let pattern: [UInt64] = {
        var out: [UInt64] = []
        for w in 1..<8 {
            var v: UInt64 = 0
            for b in 0..<8 {
                let byte = UInt64(w * 8 + b)
                v |= byte << UInt64(8 * b)
            }
            out.append(v)
        }
        return out
    }()

    private init(size: Int, inline: Words, extra: [UInt8]?) {
        self.size = size
        self.inline = inline
        self.extra = extra
    }

    static func make(seq: UInt64, size: Int) -> Payload {
        let p = pattern
        let first = size >= 8 ? seq : seq & ((UInt64(1) << (8 * UInt64(size))) &- 1)
        let words: Words = (first, p[0], p[1], p[2], p[3], p[4], p[5], p[6])
        let extra: [UInt8]? = size > 64 ? (64..<size).map { UInt8(truncatingIfNeeded: $0) } : nil
        return Payload(size: size, inline: words, extra: extra)
    }

    /// The sequence number, or nil if the payload is shorter than 8 bytes.
    var seq: UInt64? { size >= 8 ? inline.0 : nil }
}
