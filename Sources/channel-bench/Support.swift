import Foundation
import Locks
import Synchronization

/// A receiver's progress counter (received + lagged), padded so that each one
/// sits on its own cache lines (the object is larger than 128 bytes).
final class Progress: Sendable {
    let value = Atomic<UInt64>(0)
    let pad: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
              UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
}

/// An async barrier for `count` tasks (tokio's `sync::Barrier`).
final class AsyncBarrier: Sendable {
    private let state: PthreadLock<(remaining: Int, waiting: [UnsafeContinuation<Void, Never>])>

    init(count: Int) { state = PthreadLock((count, [])) }

    func wait() async {
        await withUnsafeContinuation { (c: UnsafeContinuation<Void, Never>) in
            let release = state.withLock { s -> [UnsafeContinuation<Void, Never>] in
                s.remaining -= 1
                if s.remaining > 0 {
                    s.waiting.append(c)
                    return []
                }
                let all = s.waiting + [c]
                s.waiting = []
                return all
            }
            for r in release { r.resume() }
        }
    }
}

/// Peak resident set size so far (Linux VmHWM), KiB.
func vmHWMKiB() -> UInt64 {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        if parts.count >= 2, let v = UInt64(parts[1]) { return v }
    }
    return 0
}

/// Seconds between two instants.
func seconds(_ d: Duration) -> Double {
    let (s, atto) = d.components
    return Double(s) + Double(atto) * 1e-18
}

func fmt(_ x: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", x) }
