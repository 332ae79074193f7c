// `broker-cli ping`: the round trip of PING/PONG.
import BrokerClient

/// Connects, pings once, prints the time; 0 when the broker answered, 1 otherwise.
func runPing(_ invocation: Invocation) -> Int32 {
    do {
        let connection = try connect(invocation)
        let elapsed = try connection.ping(timeout: invocation.timeout)
        writeStdout("PONG from \(connection.endpoint): time=\(formatMilliseconds(elapsed)) ms\n")
        return 0
    } catch {
        diagnose(describe(error))
        return 1
    }
}

/// A duration in milliseconds with three decimals: `0.183`.
func formatMilliseconds(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    let microseconds = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    return formatFixed(Double(microseconds) / 1000, decimals: 3)
}

/// A number with a fixed count of decimals, without Foundation.
func formatFixed(_ value: Double, decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = (value * scale).rounded()
    guard scaled.isFinite, abs(scaled) < 9e17 else { return String(value) }
    let whole = Int64(scaled)
    let sign = whole < 0 ? "-" : ""
    let magnitude = whole.magnitude
    let integer = magnitude / UInt64(scale)
    if decimals == 0 { return "\(sign)\(integer)" }
    let fraction = String(magnitude % UInt64(scale))
    return "\(sign)\(integer).\(String(repeating: "0", count: decimals - fraction.count))\(fraction)"
}
