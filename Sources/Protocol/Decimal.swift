// The wire's decimal numbers: strict parsing (1 to 20 digits, below 2^64) and BPUB's saturating size.

/// Decimal numbers as the protocol writes them: ASCII digits only, no sign, no spaces.
///
/// Guarantees: nothing here allocates or traps, whatever the bytes.
@usableFromInline
enum Decimal {
    /// The most digits a number on the wire may have (2^64 - 1 has 20).
    static let maxDigits = 20

    /// How many digits `value` has (1 to 20).
    @inlinable
    static func width(_ value: UInt64) -> Int {
        var width = 1
        var rest = value / 10
        while rest > 0 {
            width += 1
            rest /= 10
        }
        return width
    }

    /// Writes `value`'s digits so that the last one is just before `end`; returns where
    /// the first one is. `out` must have room for ``width(_:)`` bytes before `end`.
    @inlinable
    static func write(_ value: UInt64, endingAt end: Int, in out: UnsafeMutableRawBufferPointer) -> Int {
        var index = end
        var rest = value
        repeat {
            index -= 1
            out[index] = ASCII.zero &+ UInt8(rest % 10)
            rest /= 10
        } while rest > 0
        return index
    }

    /// A number of 1 to 20 digits with a value below 2^64, or nil.
    static func parse(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard let (value, overflowed) = scan(bytes), !overflowed else { return nil }
        return value
    }

    /// 1 to 20 digits; a value of 2^64 or more is `UInt64.max`. Nil for anything else.
    static func parseSaturating(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard let (value, overflowed) = scan(bytes) else { return nil }
        return overflowed ? UInt64.max : value
    }

    /// The value of 1 to 20 digits, and whether it passed 2^64 - 1; nil for anything else.
    private static func scan(_ bytes: UnsafeRawBufferPointer) -> (value: UInt64, overflowed: Bool)? {
        if bytes.isEmpty || bytes.count > maxDigits { return nil }
        var value: UInt64 = 0
        var overflowed = false
        for byte in bytes {
            guard byte >= ASCII.zero, byte <= ASCII.zero + 9 else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(byte - ASCII.zero))
            if o1 || o2 { overflowed = true }
            value = sum
        }
        return (value, overflowed)
    }
}
