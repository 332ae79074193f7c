import Foundation

enum FileHandleStderr {
    static func write(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
}

func runFanout(_ a: Args, warmup: UInt64) async -> Bool {
    if warmup > 0 {
        _ = await broadcastPass(m: warmup, n: a.receivers, cap: a.capacity, p: a.payload, pace: a.pace, margin: a.margin, slow: nil, ex: a.taskExecutor)
    }
    let r = await broadcastPass(m: a.messages, n: a.receivers, cap: a.capacity, p: a.payload, pace: a.pace, margin: a.margin, slow: nil, ex: a.taskExecutor)
    let m = a.messages, n = UInt64(a.receivers)
    let deliveries = r.rx.reduce(0) { $0 + $1.received }
    let laggedTotal = r.rx.reduce(0) { $0 + $1.lagged }
    let lagEvents = r.rx.reduce(0) { $0 + $1.lagEvents }
    let orderErrors = r.rx.reduce(0) { $0 + $1.orderErrors }
    let maxLagged = r.rx.map(\.lagged).max() ?? 0
    let accounted = r.rx.count == a.receivers && r.rx.allSatisfy { $0.received + $0.lagged == m }
    let ok = accounted && orderErrors == 0 && deliveries == m * n - laggedTotal && (a.pace == .none || laggedTotal == 0)
    let w = seconds(r.wall)
    print("result mode=fanout pace=\(a.pace.rawValue) receivers=\(a.receivers) capacity=\(a.capacity) messages=\(m) payload=\(a.payload) workers=\(a.workers) "
        + "wall_s=\(fmt(w, 6)) send_s=\(fmt(seconds(r.sendTime), 6)) sends_per_s=\(fmt(Double(m) / w, 0)) deliveries=\(deliveries) deliveries_per_s=\(fmt(Double(deliveries) / w, 0)) "
        + "ns_per_delivery=\(fmt(w * 1e9 / Double(deliveries), 2)) lagged_total=\(laggedTotal) lagged_pct=\(fmt(100 * Double(laggedTotal) / Double(m * n), 3)) lag_events=\(lagEvents) max_lagged_per_rx=\(maxLagged) yields=\(r.yields) "
        + "vm_hwm_kib=\(vmHWMKiB()) check=\(ok ? "ok" : "FAIL")")
    return ok
}

func runLag(_ a: Args, warmup: UInt64) async -> Bool {
    let slow = (index: 0, sleep: Duration.microseconds(Int64(a.slowUs)))
    if warmup > 0 {
        _ = await broadcastPass(m: warmup, n: a.receivers, cap: a.capacity, p: a.payload, pace: .yield, margin: a.margin, slow: nil, ex: a.taskExecutor)
    }
    let r = await broadcastPass(m: a.messages, n: a.receivers, cap: a.capacity, p: a.payload, pace: .yield, margin: a.margin, slow: slow, ex: a.taskExecutor)
    let m = a.messages
    var ok = r.rx.count == a.receivers
    for (i, x) in r.rx.enumerated() {
        let role = i == slow.index ? "slow" : "fast"
        let sumOK = x.received + x.lagged == m
        let roleOK = i == slow.index ? true : (x.received == m && x.lagged == 0 && x.lagEvents == 0)
        let thisOK = sumOK && roleOK && x.orderErrors == 0
        ok = ok && thisOK
        let sorted = x.lagValues.sorted()
        let (lmin, lmed, lmax) = sorted.isEmpty ? (0, 0, 0) : (sorted[0], sorted[sorted.count / 2], sorted[sorted.count - 1])
        let first = x.lagValues.prefix(12).map(String.init).joined(separator: ",")
        print("lag rx=\(i) role=\(role) received=\(x.received) lagged=\(x.lagged) received_plus_lagged=\(x.received + x.lagged) "
            + "lag_events=\(x.lagEvents) lag_min=\(lmin) lag_median=\(lmed) lag_max=\(lmax) "
            + "first_lags=[\(first)] order_errors=\(x.orderErrors) check=\(thisOK ? "ok" : "FAIL")")
    }
    let fast = r.rx.dropFirst()
    let slowRx = r.rx.first ?? RxResult()
    print("result mode=lag receivers=\(a.receivers) capacity=\(a.capacity) messages=\(m) payload=\(a.payload) workers=\(a.workers) slow_us=\(a.slowUs) "
        + "wall_s=\(fmt(seconds(r.wall), 6)) send_s=\(fmt(seconds(r.sendTime), 6)) fast_received_all=\(fast.allSatisfy { $0.received == m && $0.lagged == 0 }) "
        + "slow_received=\(slowRx.received) slow_lagged=\(slowRx.lagged) slow_lag_events=\(slowRx.lagEvents) all_sums_equal_m=\(r.rx.allSatisfy { $0.received + $0.lagged == m }) yields=\(r.yields) "
        + "vm_hwm_kib=\(vmHWMKiB()) check=\(ok ? "ok" : "FAIL")")
    return ok
}

func runMpsc(_ a: Args, warmup: UInt64) async -> Bool {
    if warmup > 0 { _ = await mpscPass(m: warmup, k: a.producers, cap: a.capacity, p: a.payload, ex: a.taskExecutor) }
    let r = await mpscPass(m: a.messages, k: a.producers, cap: a.capacity, p: a.payload, ex: a.taskExecutor)
    let ok = r.received == a.messages && r.orderErrors == 0
    let w = seconds(r.wall)
    print("result mode=mpsc producers=\(a.producers) capacity=\(a.capacity) messages=\(a.messages) payload=\(a.payload) workers=\(a.workers) "
        + "wall_s=\(fmt(w, 6)) msgs_per_s=\(fmt(Double(a.messages) / w, 0)) ns_per_msg=\(fmt(w * 1e9 / Double(a.messages), 2)) received=\(r.received) vm_hwm_kib=\(vmHWMKiB()) check=\(ok ? "ok" : "FAIL")")
    return ok
}
