// The bytes of a log line: the timestamp, the decimal numbers, the fields, in one buffer.
import Protocol

/// Builds log lines as bytes, without `String` formatting: an RFC 3339 UTC timestamp with
/// milliseconds from the clock's seconds and nanoseconds (the civil date is computed, no
/// `gmtime_r`), the connection number by the wire encoder's `appendDecimal`, and the text
/// fields copied as UTF-8.
///
/// Pure: no clock, no I/O (the ``Logger`` reads the clock and writes the line), so every
/// case is checked in the tests with fixed times.
enum LogLineFormat {
    /// Bytes of a timestamp: `2026-11-27T03:40:00.123Z`.
    static let timestampBytes = 24

    /// Appends `2026-11-27T03:40:00.123Z` for `seconds` since 1970 (UTC; negative ones are
    /// before 1970) and the `nanoseconds` past them (0 to 999,999,999; milliseconds are
    /// truncated, as the clock's are). A year past 9999 keeps its last four digits and one before
    /// year 0 shows as 0000: a clock that far off is wrong anyway, and the line keeps its shape.
    static func appendTimestamp(seconds: Int64, nanoseconds: Int64, to line: inout [UInt8]) {
        let days = floorDivide(seconds, 86_400)
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civilDate(daysSince1970: days)
        let milliseconds = min(max(nanoseconds, 0), 999_999_999) / 1_000_000
        // Written in place into 24 bytes on the stack, then appended at once (digit by digit
        // into the array cost about 1,700 instructions a timestamp; callgrind).
        var room: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &room) { out in
            func put(_ value: Int64, width: Int, at offset: Int) {
                var rest = max(value, 0)
                var index = offset + width
                while index > offset {
                    index -= 1
                    out[index] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest % 10)
                    rest /= 10
                }
            }
            put(year, width: 4, at: 0)
            out[4] = UInt8(ascii: "-")
            put(month, width: 2, at: 5)
            out[7] = UInt8(ascii: "-")
            put(day, width: 2, at: 8)
            out[10] = UInt8(ascii: "T")
            put(secondOfDay / 3600, width: 2, at: 11)
            out[13] = UInt8(ascii: ":")
            put(secondOfDay / 60 % 60, width: 2, at: 14)
            out[16] = UInt8(ascii: ":")
            put(secondOfDay % 60, width: 2, at: 17)
            out[19] = UInt8(ascii: ".")
            put(milliseconds, width: 3, at: 20)
            out[23] = UInt8(ascii: "Z")
            line.append(contentsOf: out)
        }
    }

    /// Appends a whole line's fields, without the final LF: `<timestamp> <level>[ conn=<n>][ peer=<peer>] <message>`.
    static func appendLine(seconds: Int64, nanoseconds: Int64, level: LogLevel, connection: UInt64?, peer: String?,
                           message: String, to line: inout [UInt8]) {
        appendTimestamp(seconds: seconds, nanoseconds: nanoseconds, to: &line)
        line.append(UInt8(ascii: " "))
        appendText(level.rawValue, to: &line)
        if let connection {
            appendText(" conn=", to: &line)
            WireEncoder.appendDecimal(connection, to: &line)
        }
        if let peer {
            appendText(" peer=", to: &line)
            appendText(peer, to: &line)
        }
        line.append(UInt8(ascii: " "))
        appendText(message, to: &line)
    }

    /// Appends `text`'s UTF-8 in one copy (appending its `utf8` view element-wise cost about
    /// 190 instructions a field; callgrind).
    static func appendText(_ text: String, to line: inout [UInt8]) {
        var text = text  // a copy of the reference; `withUTF8` makes a bridged string contiguous first
        text.withUTF8 { line.append(contentsOf: $0) }
    }

    /// Year, month (1 to 12) and day (1 to 31) of the day `days` after 1970-01-01, in the
    /// proleptic Gregorian calendar: eras of 400 years (146,097 days) starting on March 1,
    /// so that the leap day is the last day of its year.
    static func civilDate(daysSince1970 days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468  // days from 0000-03-01 to 1970-01-01
        let era = floorDivide(shifted, 146_097)
        let dayOfEra = shifted - era * 146_097                                              // 0 ... 146096
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365  // 0 ... 399
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)     // 0 ... 365, from March 1
        let monthFromMarch = (5 * dayOfYear + 2) / 153                                     // 0 ... 11
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    /// Division rounding towards minus infinity.
    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        let quotient = value / divisor
        return (value % divisor < 0) ? quotient - 1 : quotient
    }
}
