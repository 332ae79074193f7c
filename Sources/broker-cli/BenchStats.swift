// bench's numbers: payloads that carry their send time, latency percentiles, rates.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The bench payload: 16 hex digits of the monotonic send time in nanoseconds, then padding.
enum BenchPayload {
    /// The smallest payload that can carry the timestamp.
    static let minimumSize = 16

    /// Nanoseconds of `CLOCK_MONOTONIC` (the same clock in every process of the machine).
    static func nowNanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    /// Writes the timestamp into the first 16 bytes of `payload` (which is at least that long).
    static func stamp(_ nanoseconds: UInt64, into payload: inout [UInt8]) {
        let hex: StaticString = "0123456789abcdef"
        hex.withUTF8Buffer { digits in
            var value = nanoseconds
            for index in stride(from: 15, through: 0, by: -1) {
                payload[index] = digits[Int(value & 0xF)]
                value >>= 4
            }
        }
    }

    /// The timestamp at the start of a payload, or nil if it carries none.
    static func timestamp(of payload: [UInt8]) -> UInt64? {
        payload.withUnsafeBytes { timestamp(of: $0) }
    }

    /// The send time stamped at the start of a payload lent by the connection.
    static func timestamp(of payload: UnsafeRawBufferPointer) -> UInt64? {
        guard payload.count >= 16 else { return nil }
        var value: UInt64 = 0
        for byte in UnsafeRawBufferPointer(rebasing: payload[0..<16]) {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            default: return nil
            }
            value = value << 4 | UInt64(digit)
        }
        return value
    }
}

/// Latency percentiles over a set of samples, by the nearest-rank method.
struct Percentiles: Equatable, Sendable {
    var p50: UInt64
    var p90: UInt64
    var p99: UInt64
    var p999: UInt64
    var max: UInt64

    init(p50: UInt64, p90: UInt64, p99: UInt64, p999: UInt64, max: UInt64) {
        (self.p50, self.p90, self.p99, self.p999, self.max) = (p50, p90, p99, p999, max)
    }

    /// The percentiles of `samples` (any order); nil when there are none.
    init?(_ samples: [UInt64]) {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        p50 = Percentiles.rank(sorted, 50)
        p90 = Percentiles.rank(sorted, 90)
        p99 = Percentiles.rank(sorted, 99)
        p999 = Percentiles.rank(sorted, 99.9)
        max = sorted[sorted.count - 1]
    }

    /// The smallest sample such that at least `percent` % of the samples are at or below it.
    static func rank(_ sorted: [UInt64], _ percent: Double) -> UInt64 {
        let exact = percent / 100 * Double(sorted.count)
        // Guard against 99.9 % of 1000 being computed as 999.0000001.
        let rank = Int((exact - 1e-9).rounded(.up))
        return sorted[Swift.min(Swift.max(rank, 1), sorted.count) - 1]
    }
}

/// Messages per second, 0 for an empty interval.
func rate(_ count: Int, seconds: Double) -> Double {
    seconds > 0 ? Double(count) / seconds : 0
}

/// A whole number with thousands separators: 1,234,567.
func grouped(_ value: Double) -> String {
    let whole = Int64(value.rounded())
    var digits = String(whole.magnitude)
    var result = ""
    while digits.count > 3 {
        result = "," + digits.suffix(3) + result
        digits.removeLast(3)
    }
    return (whole < 0 ? "-" : "") + digits + result
}
