// The cached topic's name check on every PUB: equal exactly when the bytes are, at every length and difference.
import Testing
@testable import Broker

@Suite struct SameBytesTests {
    @Test func equalExactlyWhenEveryByteIs() {
        for count in 0...40 {
            let base = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            // Offsets 1 in both: words are read unaligned.
            let left = [0xAA] + base
            left.withUnsafeBytes { a in
                let same = [0x55] + base
                same.withUnsafeBytes { b in
                    #expect(Topic.sameBytes(a.baseAddress! + 1, b.baseAddress! + 1, count: count), "count \(count)")
                }
                for position in 0..<count {
                    var other = [0x55] + base
                    other[position + 1] ^= 0x01
                    other.withUnsafeBytes { b in
                        #expect(!Topic.sameBytes(a.baseAddress! + 1, b.baseAddress! + 1, count: count), "count \(count), byte \(position)")
                    }
                }
            }
        }
    }
}
