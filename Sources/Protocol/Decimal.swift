// The wire's decimal numbers: strict parsing (1 to 20 digits, below 2^64) and BPUB's saturating size.

/// Decimal numbers as the protocol writes them: ASCII digits only, no sign, no spaces.
///
/// Guarantees: nothing here allocates or traps, whatever the bytes.
@usableFromInline
enum Decimal {
    /// The most digits a number on the wire may have (2^64 - 1 has 20).
    static let maxDigits = 20

    /// How many digits `value` has (1 to 20). Compares with powers of ten: no division.
    @inlinable
    static func width(_ value: UInt64) -> Int {
        var width = 1
        var bound: UInt64 = 10
        while width < 20 && value >= bound {  // 20: maxDigits
            width += 1
            bound &*= 10  // 10^19 is the last power compared: it fits
        }
        return width
    }

    /// "00" to "99": the digits of every number below 100, two at a time.
    @usableFromInline
    static let pairs: StaticString = """
        0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546474849\
        5051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899
        """

    /// Writes `value`'s digits so that the last one is just before `end`; returns where
    /// the first one is. `out` must have room for ``width(_:)`` bytes before `end`.
    /// Two digits per step, from a table (half the divisions of one at a time).
    @inlinable
    static func write(_ value: UInt64, endingAt end: Int, in out: UnsafeMutableRawBufferPointer) -> Int {
        let table = pairs.utf8Start
        var index = end
        var rest = value
        while rest >= 100 {
            let pair = Int(truncatingIfNeeded: rest % 100) &* 2
            rest /= 100
            index -= 2
            out[index] = table[pair]
            out[index + 1] = table[pair + 1]
        }
        if rest >= 10 {
            let pair = Int(truncatingIfNeeded: rest) &* 2
            index -= 2
            out[index] = table[pair]
            out[index + 1] = table[pair + 1]
        } else {
            index -= 1
            out[index] = ASCII.zero &+ UInt8(truncatingIfNeeded: rest)
        }
        return index
    }

    /// A number of 1 to 20 digits with a value below 2^64, or nil.
    static func parse(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard let (value, overflowed) = scan(bytes), !overflowed else { return nil }
        return value
    }

    /// The number whose digits start at `start` and run to the first byte that is not a
    /// digit (or the end): its value, and where it stopped. Nil unless there are 1 to 20
    /// digits with a value below 2^64. For fields inside a line, read in one pass.
    @inlinable
    static func parseField(_ bytes: UnsafeRawBufferPointer, from start: Int) -> (value: UInt64, end: Int)? {
        var index = start
        var value: UInt64 = 0
        if start + 8 <= bytes.count, let base = bytes.baseAddress {
            // Eight bytes at once: how many leading ones are digits, and their value.
            let word = UInt64(littleEndian: (base + start).loadUnaligned(as: UInt64.self))
            let digits = word & 0x0F0F_0F0F_0F0F_0F0F
            // A byte is a digit when its high nibble is 3 and its low one at most 9 (low + 6
            // then stays below 16); no carry crosses bytes.
            let notDigits = ((word & 0xF0F0_F0F0_F0F0_F0F0) ^ 0x3030_3030_3030_3030)
                | ((digits &+ 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0)
            let count = notDigits == 0 ? 8 : notDigits.trailingZeroBitCount / 8
            if count == 0 { return nil }
            // The digits moved up (the bytes below become leading zeros), then combined in
            // pairs, fours and eights (the first byte is the most significant digit).
            var combined = digits << UInt64((8 - count) * 8)
            combined = (combined &* 2561) >> 8
            combined = ((combined & 0x00FF_00FF_00FF_00FF) &* 6_553_601) >> 16
            combined = ((combined & 0x0000_FFFF_0000_FFFF) &* 42_949_672_960_001) >> 32
            if count < 8 { return (combined, start + count) }
            value = combined
            index = start + 8
        }
        let fast = min(bytes.count, start + 19)  // up to 19 digits (maxDigits - 1) cannot overflow
        while index < fast {
            let digit = bytes[index] &- ASCII.zero
            if digit >= 10 { break }
            value = value &* 10 &+ UInt64(digit)
            index += 1
        }
        if index == start { return nil }
        if index == fast && index < bytes.count && bytes[index] &- ASCII.zero < 10 {
            // A 20th digit: it must not pass 2^64 - 1, and no 21st may follow.
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(bytes[index] &- ASCII.zero))
            if o1 || o2 { return nil }
            value = sum
            index += 1
            if index < bytes.count && bytes[index] &- ASCII.zero < 10 { return nil }
        }
        return (value, index)
    }

    /// 1 to 20 digits; a value of 2^64 or more is `UInt64.max`. Nil for anything else.
    static func parseSaturating(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard let (value, overflowed) = scan(bytes) else { return nil }
        return overflowed ? UInt64.max : value
    }

    /// The value of 1 to 20 digits, and whether it passed 2^64 - 1; nil for anything else.
    private static func scan(_ bytes: UnsafeRawBufferPointer) -> (value: UInt64, overflowed: Bool)? {
        if bytes.isEmpty || bytes.count > maxDigits { return nil }
        if bytes.count < maxDigits {
            // Up to 19 digits cannot pass 2^64 - 1: no overflow to check (the usual case, per frame).
            var value: UInt64 = 0
            for byte in bytes {
                let digit = byte &- ASCII.zero
                guard digit < 10 else { return nil }
                value = value &* 10 &+ UInt64(digit)
            }
            return (value, false)
        }
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
