// `broker-cli bench`: subscribers first, then pipelined publishers, then the report.
import BrokerClient
import Dispatch
import Foundation
import Locks
import Synchronization

/// Moves a value that has one owner to the thread that will use it; nothing else touches it afterwards.
final class Handoff<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Counters the threads share for the progress line and the stop condition.
final class BenchShared: Sendable {
    /// Messages answered by the broker, all publishers.
    let published = Atomic<Int>(0)
    /// Messages received, all subscribers.
    let delivered = Atomic<Int>(0)
    /// Messages each subscriber waits for (received + lagged); lowered to the accepted count once publishing ends.
    let expected: Atomic<Int>
    /// Monotonic nanoseconds when publishing started.
    let start: UInt64

    init(expected: Int, start: UInt64) {
        self.expected = Atomic(expected)
        self.start = start
    }
}

/// Runs the benchmark; 0 when every subscriber accounted for every message.
func runBench(_ invocation: Invocation) -> Int32 {
    let topic = invocation.topic
    var subscribers: [BrokerConnection] = []
    var publishers: [BrokerConnection] = []
    do {
        for _ in 0..<invocation.subs {
            let connection = try connect(invocation, version: invocation.protocolVersion ?? .v1)
            try connection.subscribe(topic)
            subscribers.append(connection)
        }
        for _ in 0..<invocation.pubs {
            publishers.append(try connect(invocation))
        }
    } catch {
        diagnose(describe(error))
        return 1
    }
    let shared = BenchShared(expected: invocation.msgs, start: BenchPayload.nowNanoseconds())
    let subResults = PthreadLock([SubscriberResult](repeating: SubscriberResult(), count: invocation.subs))
    let pubResults = PthreadLock([PublisherResult](repeating: PublisherResult(), count: invocation.pubs))
    let subsDone = DispatchSemaphore(value: 0)
    let pubsDone = DispatchSemaphore(value: 0)
    let cancellers = subscribers.map(\.canceller)

    for (index, connection) in subscribers.enumerated() {
        let owned = Handoff(connection)
        Thread {
            let result = benchSubscriber(owned.value, shared: shared)
            subResults.withLock { $0[index] = result }
            subsDone.signal()
        }.start()
    }
    subscribers.removeAll()
    for (index, connection) in publishers.enumerated() {
        let share = invocation.msgs / invocation.pubs + (index < invocation.msgs % invocation.pubs ? 1 : 0)
        let owned = Handoff(connection)
        let size = invocation.size
        Thread {
            let result = benchPublisher(owned.value, topic: topic, count: share, size: size, shared: shared)
            pubResults.withLock { $0[index] = result }
            pubsDone.signal()
        }.start()
    }
    publishers.removeAll()

    let progress = BenchProgress(shared: shared, total: invocation.msgs, subs: invocation.subs)
    progress.start()
    for _ in 0..<invocation.pubs { pubsDone.wait() }
    let finishedPublishers = pubResults.withLock { $0 }
    let accepted = finishedPublishers.reduce(0) { $0 + $1.sent - $1.refused }
    shared.expected.store(accepted, ordering: .sequentiallyConsistent)
    waitForSubscribers(count: invocation.subs, done: subsDone, shared: shared, cancellers: cancellers)
    progress.stop()

    let report = BenchReport(
        pubs: invocation.pubs, subs: invocation.subs, msgs: invocation.msgs, size: invocation.size, topic: topic,
        protocolVersion: invocation.protocolVersion ?? .v1,
        endpoint: invocation.endpoint.description, publishers: finishedPublishers,
        subscribers: subResults.withLock { $0 },
        publishSeconds: finishedPublishers.map(\.seconds).max() ?? 0)
    writeStdout(invocation.json ? report.json : report.text)
    for error in Set(finishedPublishers.compactMap(\.error) + report.subscribers.compactMap(\.error)) {
        diagnose(error)
    }
    if !report.isComplete { diagnose("not every message was accounted for (received + lagged != published)") }
    return report.isComplete ? 0 : 1
}

/// Waits until every subscriber thread is done; if deliveries stop for 5 s, shuts the rest down.
private func waitForSubscribers(count: Int, done: DispatchSemaphore, shared: BenchShared, cancellers: [BrokerConnection.Canceller]) {
    var remaining = count
    var lastDelivered = -1
    var lastProgress = ContinuousClock.now
    var cancelled = false
    while remaining > 0 {
        if done.wait(timeout: .now() + .milliseconds(200)) == .success {
            remaining -= 1
            continue
        }
        let delivered = shared.delivered.load(ordering: .relaxed)
        if delivered != lastDelivered {
            lastDelivered = delivered
            lastProgress = .now
        } else if !cancelled && lastProgress.duration(to: .now) > .seconds(5) {
            cancellers.forEach { $0.cancel() }
            cancelled = true
        }
    }
}

/// One subscriber: counts messages and lag until every expected message is accounted for.
private func benchSubscriber(_ connection: BrokerConnection, shared: BenchShared) -> SubscriberResult {
    var result = SubscriberResult()
    result.latencies.reserveCapacity(shared.expected.load(ordering: .relaxed))
    var last = shared.start
    do {
        // The lending read: messages are looked at in the read buffer, not copied (the
        // client's own cost per message would otherwise be most of what is measured).
        var finished = result.received + Int(result.lagged) >= shared.expected.load(ordering: .relaxed)
        while !finished {
            let stopped = try connection.receive { event in
                switch event {
                case let .message(message):
                    let now = BenchPayload.nowNanoseconds()
                    if let sent = BenchPayload.timestamp(of: message.payload), sent <= now { result.latencies.append(now - sent) }
                    result.received += 1
                    last = now
                    shared.delivered.add(1, ordering: .relaxed)
                case let .event(.lagged(_, count)):
                    result.lagged += count
                case .event(.positionLost), .event(.message):
                    break  // bench never resumes; messages come lent
                case let .event(.bye(code, text)):
                    result.error = BrokerClientError.bye(code: code, text: text).description
                }
                finished = result.error != nil
                    || result.received + Int(result.lagged) >= shared.expected.load(ordering: .relaxed)
                return !finished
            }
            if !stopped {
                if result.error == nil { result.error = BrokerClientError.closed.description }
                break
            }
        }
    } catch {
        result.error = error.description
    }
    result.seconds = Double(last &- shared.start) / 1e9
    if result.received + Int(result.lagged) < shared.expected.load(ordering: .relaxed), result.error == nil {
        result.error = "a subscriber stopped receiving before every message was accounted for"
    }
    return result
}

/// One publisher: its share of the messages, pipelined, each stamped with its send time.
private func benchPublisher(_ connection: BrokerConnection, topic: String, count: Int, size: Int, shared: BenchShared) -> PublisherResult {
    var result = PublisherResult()
    var payload = [UInt8](repeating: UInt8(ascii: "x"), count: size)
    var remaining = count
    do {
        try connection.publishPipelined(topic: Array(topic.utf8), maxInFlight: 4096, produce: { batch in
            let now = BenchPayload.nowNanoseconds()
            let take = min(remaining, max(1, min(batch.room, 256)))
            for _ in 0..<take {
                BenchPayload.stamp(now, into: &payload)
                batch.append(payload: payload)
            }
            remaining -= take
            return remaining > 0
        }, onReply: { _, reply in
            result.sent += 1
            if case .refused = reply { result.refused += 1 }
            shared.published.add(1, ordering: .relaxed)
        })
    } catch {
        result.error = error.description
    }
    result.seconds = Double(BenchPayload.nowNanoseconds() &- shared.start) / 1e9
    return result
}

/// The progress line on stderr, only when stderr is a terminal.
final class BenchProgress: Sendable {
    let shared: BenchShared
    let total: Int
    let subs: Int
    let stopped = DispatchSemaphore(value: 0)
    let finished = DispatchSemaphore(value: 0)
    let enabled = isatty(STDERR_FILENO) == 1

    init(shared: BenchShared, total: Int, subs: Int) {
        self.shared = shared
        self.total = total
        self.subs = subs
    }

    func start() {
        guard enabled else { return }
        Thread { [self] in
            while stopped.wait(timeout: .now() + .milliseconds(250)) == .timedOut {
                let published = shared.published.load(ordering: .relaxed)
                let delivered = shared.delivered.load(ordering: .relaxed)
                writeStderr("\rbench: published \(published)/\(total), delivered \(delivered)/\(total * subs)\u{1B}[K")
            }
            writeStderr("\r\u{1B}[K")
            finished.signal()
        }.start()
    }

    func stop() {
        guard enabled else { return }
        stopped.signal()
        finished.wait()
    }
}
