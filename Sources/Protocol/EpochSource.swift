// Stream epochs: unique tokens of [0-9a-z] made from a 64-bit seed (PROTOCOL.md, "Streams, epochs and positions").

/// Makes the epochs of new streams.
///
/// A token is the seed in base 36, zero-padded to 13 characters, followed by a counter
/// in base 36 without padding (`0`, `1`, ... `z`, `10`, ...). So every token is 14 to 26
/// characters of `[0-9a-z]`, valid for ``Names/isValidEpoch(_:)``, and:
/// - one source never repeats a token: two tokens differ in their counter, and the
///   counter's rendering has no leading zeros. The counter has 64 bits: after 2^64
///   tokens (584 years at a billion a second) it would start again;
/// - sources with different seeds never share a token: they differ in the first 13
///   characters. The broker seeds its source from `getrandom`, so a restarted broker
///   gives new epochs unless two 64-bit random seeds are equal.
///
/// Pure and deterministic (tests seed it by hand). Not thread-safe: it is a value
/// that its owner mutates under its own lock.
public struct EpochSource: Sendable {
    /// The seed, which is the first 13 characters of every token.
    public let seed: UInt64
    /// How many tokens were made so far (the counter of the next token).
    public private(set) var issued: UInt64 = 0
    /// The seed in base 36, padded.
    private let prefix: [UInt8]

    /// Characters of the seed's rendering: 36^13 > 2^64.
    static let seedDigits = 13
    /// The base-36 digits.
    static let digits: [UInt8] = Array("0123456789abcdefghijklmnopqrstuvwxyz".utf8)

    public init(seed: UInt64) {
        self.seed = seed
        var prefix = [UInt8](repeating: EpochSource.digits[0], count: EpochSource.seedDigits)
        var rest = seed
        var index = EpochSource.seedDigits
        while rest > 0 {
            index -= 1
            prefix[index] = EpochSource.digits[Int(rest % 36)]
            rest /= 36
        }
        self.prefix = prefix
    }

    /// The next epoch.
    public mutating func next() -> [UInt8] {
        token(for: nextNumber())
    }

    /// The counter of the next epoch, taken: a stream may keep this number (8 bytes)
    /// instead of its token, and have the token made by ``token(for:)`` when it is needed.
    public mutating func nextNumber() -> UInt64 {
        defer { issued &+= 1 }
        return issued
    }

    /// The token of the epoch with counter `number` (this source's seed).
    public func token(for number: UInt64) -> [UInt8] {
        var token = prefix
        token.reserveCapacity(EpochSource.seedDigits + 13)
        var counter = number
        let start = token.count
        repeat {
            token.insert(EpochSource.digits[Int(counter % 36)], at: start)
            counter /= 36
        } while counter > 0
        return token
    }

    /// The counter of `token` when this source made it (its seed's prefix, then a
    /// counter without leading zeros that fits 64 bits); nil for any other token.
    public func number(of token: [UInt8]) -> UInt64? {
        guard token.count > EpochSource.seedDigits, token.count <= EpochSource.seedDigits + 13,
              token[0..<EpochSource.seedDigits].elementsEqual(prefix) else { return nil }
        let counter = token[EpochSource.seedDigits...]
        if counter.count > 1 && counter.first == EpochSource.digits[0] { return nil }
        var value: UInt64 = 0
        for byte in counter {
            guard let digit = EpochSource.digits.firstIndex(of: byte) else { return nil }
            let (times, o1) = value.multipliedReportingOverflow(by: 36)
            let (sum, o2) = times.addingReportingOverflow(UInt64(digit))
            if o1 || o2 { return nil }
            value = sum
        }
        return value
    }
}
