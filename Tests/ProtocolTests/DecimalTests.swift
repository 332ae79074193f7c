// Decimal numbers as the encoders write them: every width, every digit pair, both ends of UInt64.
import Protocol
import Testing

@Suite struct DecimalTests {
    /// Powers of ten and their neighbours, the largest values, and a spread of others.
    private static let values: [UInt64] = {
        var values: [UInt64] = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, UInt64.max, UInt64.max - 1]
        var power: UInt64 = 10
        for _ in 1..<20 {
            values += [power - 1, power, power + 1]
            if power > UInt64.max / 10 { break }
            power *= 10
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 { values.append(UInt64.random(in: 0...UInt64.max, using: &generator) >> UInt64.random(in: 0...63)) }
        return values
    }()

    @Test func appendDecimalWritesWhatStringDoes() {
        for value in Self.values {
            var buffer: [UInt8] = [0x41]
            WireEncoder.appendDecimal(value, to: &buffer)
            #expect(buffer == [0x41] + Array(String(value).utf8), "\(value)")
        }
    }

    /// The header's numbers read back, whatever their width and whatever follows them
    /// (the reader takes eight bytes at a time where it can).
    @Test func headerNumbersOfEveryWidthReadBack() throws {
        for value in Self.values {
            let size = value % 1_000_003
            for topic in ["t", "orders.eu.west"] {
                let line = Array("MSG \(topic) \(value) \(size)".utf8)
                let header = try #require(line.withUnsafeBytes { ServerFrameParser.versionTwoMessageHeader($0) }, "\(value)")
                #expect(header.seq == value && header.size == size && Array(header.topic) == Array(topic.utf8))
                #expect(try ServerFrameParser.parse(line, version: 2) == .msgHeader(topic: Array(topic.utf8), seq: value, size: size))
            }
        }
        // A number cut short by any other byte, at every place in an eight-byte group.
        for cut in 1...12 {
            for junk in [UInt8(ascii: "/"), UInt8(ascii: ":"), UInt8(ascii: "a"), 0x00, 0xB5, UInt8(ascii: " ")] {
                var line = Array("MSG t ".utf8) + Array(repeating: UInt8(ascii: "7"), count: cut) + [junk]
                line += Array("5 3".utf8)
                let header = line.withUnsafeBytes { ServerFrameParser.versionTwoMessageHeader($0) }
                if junk == UInt8(ascii: " ") {
                    #expect(header == nil, "MSG t 777 5 3 has four fields")
                } else {
                    #expect(header == nil, "cut \(cut), junk \(junk)")
                }
            }
        }
    }

    @Test func theVersionTwoHeaderIsExactlyAsLongAsItsCountSays() {
        for value in Self.values {
            let size = value / 3
            let count = WireEncoder.msgV2HeaderCount(topicCount: 5, seq: value, size: size)
            let expected = Array("MSG a.b.c \(value) \(size)\n".utf8)
            #expect(count == expected.count, "\(value)")
            let written = Array(unsafeUninitializedCapacity: count) { out, initialized in
                "a.b.c".utf8CString.withUnsafeBytes { topic in
                    WireEncoder.writeMsgV2Header(topic: UnsafeRawBufferPointer(rebasing: topic[0..<5]), seq: value, size: size,
                                                 into: UnsafeMutableRawBufferPointer(out))
                }
                initialized = count
            } as [UInt8]
            #expect(written == expected, "\(value)")
        }
    }
}
