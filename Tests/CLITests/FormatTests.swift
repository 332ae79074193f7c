// Output formats without sockets: JSON lines, RFC 3339 time, percentiles, bench payload timestamps.
import Testing
@testable import broker_cli

private func json(topic: String = "t", _ payload: [UInt8], time: WallTime = WallTime(seconds: 0, microseconds: 0)) -> String {
    var out: [UInt8] = []
    JSONFormat.appendMessage(topic: Array(topic.utf8), payload: payload, time: time, to: &out)
    return String(decoding: out, as: UTF8.self)
}

@Suite struct JSONOutput {
    @Test func plainPayloadIsCopied() {
        #expect(json(topic: "orders.eu", Array("hello world".utf8), time: WallTime(seconds: 1_700_000_000, microseconds: 42))
            == #"{"topic": "orders.eu", "payload": "hello world", "time": "2023-11-14T22:13:20.000042Z"}"# + "\n")
    }

    @Test func quotesBackslashesAndControlCharactersAreEscaped() {
        let payload: [UInt8] = Array(#"a"b\c"#.utf8) + [0x09, 0x0D, 0x08, 0x0C, 0x01, 0x1F]
        #expect(json(payload) == #"{"topic": "t", "payload": "a\"b\\c\t\r\b\f\u0001\u001f", "time": "1970-01-01T00:00:00.000000Z"}"# + "\n")
    }

    @Test func invalidUTF8BecomesReplacementCharacter() {
        #expect(json([0x61, 0xFF, 0x62, 0xC3]) == "{\"topic\": \"t\", \"payload\": \"a\u{FFFD}b\u{FFFD}\", \"time\": \"1970-01-01T00:00:00.000000Z\"}\n")
    }

    @Test func validMultibyteUTF8IsKept() {
        #expect(json(Array("€ ü 😀".utf8)).contains(#""payload": "€ ü 😀""#))
    }

    @Test func emptyPayloadIsAnEmptyString() {
        #expect(json([]).contains(#""payload": """#))
    }

    @Test func theCachingFormatterAgreesWithTheDirectOne() {
        var formatter = TimeFormatter()
        for (seconds, micros) in [(0, 0), (0, 999_999), (1, 5), (1_700_000_000, 123_456), (1_700_000_000, 7), (1_700_000_001, 0)] {
            let time = WallTime(seconds: seconds, microseconds: micros)
            #expect(formatter.format(time) == time.rfc3339)
        }
    }

    @Test func timeIsRFC3339UTCWithMicroseconds() {
        #expect(WallTime(seconds: 951_782_400, microseconds: 999_999).rfc3339 == "2000-02-29T00:00:00.999999Z")
        #expect(WallTime(seconds: 4_102_444_799, microseconds: 1).rfc3339 == "2099-12-31T23:59:59.000001Z")
    }
}

@Suite struct BenchNumbers {
    @Test func percentilesUseNearestRank() throws {
        let samples = (1...1000).map { UInt64($0) }.shuffled()
        let result = try #require(Percentiles(samples))
        #expect(result == Percentiles(p50: 500, p90: 900, p99: 990, p999: 999, max: 1000))
    }

    @Test func percentilesOfOneSampleAreThatSample() throws {
        #expect(try #require(Percentiles([7])) == Percentiles(p50: 7, p90: 7, p99: 7, p999: 7, max: 7))
    }

    @Test func percentilesOfSmallSetsRoundUp() throws {
        #expect(try #require(Percentiles([10, 20, 30, 40])) == Percentiles(p50: 20, p90: 40, p99: 40, p999: 40, max: 40))
    }

    @Test func noSamplesNoPercentiles() {
        #expect(Percentiles([]) == nil)
    }

    @Test func payloadCarriesItsTimestamp() {
        var payload = [UInt8](repeating: UInt8(ascii: "x"), count: 32)
        BenchPayload.stamp(0x0123_4567_89AB_CDEF, into: &payload)
        #expect(String(decoding: payload[0..<16], as: UTF8.self) == "0123456789abcdef")
        #expect(BenchPayload.timestamp(of: payload) == 0x0123_4567_89AB_CDEF)
        #expect(BenchPayload.timestamp(of: Array("not a timestamp!".utf8)) == nil)
    }

    @Test func numbersAreFormattedWithoutFoundation() {
        #expect(formatFixed(0.1834, decimals: 3) == "0.183")
        #expect(formatFixed(12, decimals: 1) == "12.0")
        #expect(formatFixed(0.05, decimals: 3) == "0.050")
        #expect(grouped(1_234_567) == "1,234,567")
        #expect(grouped(999) == "999")
    }
}
