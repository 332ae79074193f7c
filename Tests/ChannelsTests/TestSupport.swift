import Synchronization
@testable import Channels

/// Counts deinitializations of `Tracked` values created with it.
final class DeinitCounter: Sendable {
    let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .acquiring) }
}

/// A class payload whose deinit is counted, to prove values are released.
final class Tracked: Sendable {
    let n: Int
    let counter: DeinitCounter
    init(_ n: Int, _ counter: DeinitCounter) {
        self.n = n
        self.counter = counter
    }
    deinit { counter.count.add(1, ordering: .releasing) }
}

/// A waker that counts its calls and optionally runs an action.
final class CountingWaker: BroadcastWaker {
    let calls = Atomic<Int>(0)
    let action: (@Sendable () -> Void)?
    init(_ action: (@Sendable () -> Void)? = nil) { self.action = action }
    func wake() {
        calls.add(1, ordering: .relaxed)
        action?()
    }
    var count: Int { calls.load(ordering: .relaxed) }
}

/// Yields until `condition` holds (polling, not sleeping); gives up after many rounds.
func waitUntil(_ condition: () -> Bool) async -> Bool {
    for _ in 0..<1_000_000 {
        if condition() { return true }
        await Task.yield()
    }
    return condition()
}

/// Simple deterministic PRNG for stress tests.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Everything `rx` can read now, as text: values, and `lag n` for each lag reported.
func drain(_ rx: BroadcastReceiver<Int>) -> [String] {
    var seen: [String] = []
    while true {
        do { seen.append(String(try rx.tryRecv())) } catch {
            if case let .lagged(n) = error { seen.append("lag \(n)"); continue }
            return seen
        }
    }
}
