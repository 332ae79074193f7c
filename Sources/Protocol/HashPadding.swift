// The message blocks of SHA-1 and SHA-256 (FIPS 180-4, 5.1.1 and 5.2.1): the message, 0x80, zeros, its length in bits.

/// Splits a message into the 64-byte blocks SHA-1 and SHA-256 compress, padding included.
enum HashPadding {
    /// Calls `compress` with each 64-byte block of `message`, then with the padding blocks
    /// (0x80, zeros, and the length in bits as a big-endian 64-bit number ending a block).
    static func forEachBlock(of message: some Collection<UInt8>, _ compress: ([UInt8]) -> Void) {
        var block = [UInt8](repeating: 0, count: 64)
        var filled = 0
        var length: UInt64 = 0
        for byte in message {
            block[filled] = byte
            filled += 1
            length &+= 1
            if filled == 64 {
                compress(block)
                filled = 0
            }
        }
        block[filled] = 0x80
        filled += 1
        if filled > 56 {
            for index in filled..<64 { block[index] = 0 }
            compress(block)
            filled = 0
        }
        for index in filled..<56 { block[index] = 0 }
        let bits = length &* 8
        for index in 0..<8 { block[56 + index] = UInt8(truncatingIfNeeded: bits >> (56 - 8 * UInt64(index))) }
        compress(block)
    }

    /// The words of a state as big-endian bytes (the digest).
    static func bigEndianBytes(of words: [UInt32]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(words.count * 4)
        for word in words {
            for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: word >> UInt32(shift))) }
        }
        return out
    }
}
