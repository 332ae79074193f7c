import Channels

struct RxResult: Sendable {
    var received: UInt64 = 0
    var lagged: UInt64 = 0
    var lagEvents: UInt64 = 0
    var lagValues: [UInt64] = []
    var orderErrors: UInt64 = 0
    var closedAt = ContinuousClock.now
}

struct FanoutResult {
    var wall: Duration
    var sendTime: Duration
    var yields: UInt64
    var rx: [RxResult]
}

/// One broadcast pass: `n` receiver tasks and one sender task on the global
/// cooperative executor. `slow` is a receiver that sleeps after every message
/// and is left out of pacing.
func broadcastPass(
    m: UInt64, n: Int, cap: Int, p: Int, pace: Args.Pace, margin: Int,
    slow: (index: Int, sleep: Duration)?, ex: (any TaskExecutor)?
) async -> FanoutResult {
    let tx: BroadcastSender<Payload>
    do {
        (tx, _) = try Broadcast.channel(of: Payload.self, capacity: cap)
    } catch {
        return FanoutResult(wall: .zero, sendTime: .zero, yields: 0, rx: [])
    }
    let progress = (0..<n).map { _ in Progress() }
    let gate = AsyncBarrier(count: n + 1)
    let recordLags = slow != nil
    var rxTasks: [Task<RxResult, Never>] = []
    for i in 0..<n {
        let rx = tx.subscribe()
        let prog = progress[i]
        let sleep: Duration? = (slow?.index == i) ? slow?.sleep : nil
        rxTasks.append(Task(executorPreference: ex) {
            await gate.wait()
            var r = RxResult()
            var next: UInt64 = 0
            while true {
                do throws(BroadcastRecvError) {
                    let msg = try await rx.recv()
                    if let seq = msg.seq, seq != next { r.orderErrors += 1 }
                    next += 1
                    r.received += 1
                    prog.value.store(next, ordering: .releasing)
                    if let sleep { try? await Task.sleep(for: sleep) }
                } catch .lagged(let k) {
                    r.lagged += k
                    r.lagEvents += 1
                    if recordLags { r.lagValues.append(k) }
                    next += k
                    prog.value.store(next, ordering: .releasing)
                } catch {
                    r.closedAt = .now
                    break
                }
            }
            return r
        })
    }
    let paced = (0..<n).filter { $0 != slow?.index }.map { progress[$0] }
    let threshold = UInt64(cap - margin)
    let sender = Task(executorPreference: ex) { () -> (ContinuousClock.Instant, Duration, UInt64) in
        await gate.wait()
        let start = ContinuousClock.now
        var yields: UInt64 = 0
        var floor: UInt64 = 0
        var seq: UInt64 = 0
        while seq < m {
            if pace == .yield && !paced.isEmpty {
                while seq - floor >= threshold {
                    var lo = UInt64.max
                    for pr in paced { lo = min(lo, pr.value.load(ordering: .acquiring)) }
                    floor = lo
                    if seq - floor >= threshold {
                        yields += 1
                        await yieldNow(ex)
                    }
                }
            }
            tx.send(Payload.make(seq: seq, size: p))
            seq += 1
        }
        let sendTime = ContinuousClock.now - start
        tx.close()  // receivers see closed once they drained the ring
        return (start, sendTime, yields)
    }
    let (start, sendTime, yields) = await sender.value
    var rx: [RxResult] = []
    for t in rxTasks { rx.append(await t.value) }
    let end = rx.map(\.closedAt).max() ?? start
    return FanoutResult(wall: end - start, sendTime: sendTime, yields: yields, rx: rx)
}

struct MpscResult {
    var wall: Duration
    var received: UInt64
    var orderErrors: UInt64
}

/// One mpsc pass: `k` producers send `m` messages in total into one bounded
/// channel; one consumer receives until every producer is gone.
func mpscPass(m: UInt64, k: Int, cap: Int, p: Int, ex: (any TaskExecutor)?) async -> MpscResult {
    let tx: MpscSender<Payload>, rx: MpscReceiver<Payload>
    do {
        (tx, rx) = try Mpsc.bounded(of: Payload.self, capacity: cap)
    } catch {
        return MpscResult(wall: .zero, received: 0, orderErrors: 1)
    }
    let gate = AsyncBarrier(count: k + 1)
    var producers: [Task<ContinuousClock.Instant, Never>] = []
    for pid in 0..<k {
        let h = tx.clone()
        let count = m / UInt64(k) + (UInt64(pid) < m % UInt64(k) ? 1 : 0)
        producers.append(Task(executorPreference: ex) {
            await gate.wait()
            let start = ContinuousClock.now
            var i: UInt64 = 0
            while i < count {
                let seq = (UInt64(pid) << 48) | i
                do { try await h.send(Payload.make(seq: seq, size: p)) } catch { break }
                i += 1
            }
            h.close()
            return start
        })
    }
    tx.close()
    let consumer = Task(executorPreference: ex) { () -> (ContinuousClock.Instant, UInt64, UInt64) in
        await gate.wait()
        var next = [UInt64](repeating: 0, count: k)
        var received: UInt64 = 0, orderErrors: UInt64 = 0
        while let msg = await rx.recv() {
            if let seq = msg.seq {
                let pid = Int(seq >> 48)
                let i = seq & ((1 << 48) - 1)
                if pid >= k || i != next[pid] { orderErrors += 1 } else { next[pid] += 1 }
            }
            received += 1
        }
        return (.now, received, orderErrors)
    }
    var start: ContinuousClock.Instant? = nil
    for t in producers {
        let s = await t.value
        start = start.map { min($0, s) } ?? s
    }
    let (end, received, orderErrors) = await consumer.value
    return MpscResult(wall: end - (start ?? end), received: received, orderErrors: orderErrors)
}

/// The pacing yield: tokio's `yield_now` semantics on the tokio-like executor,
/// `Task.yield()` on Swift's global executor.
func yieldNow(_ ex: (any TaskExecutor)?) async {
    if let t = ex as? TwoWorkerExecutor {
        await t.yieldNow()
    } else {
        await Task.yield()
    }
}
