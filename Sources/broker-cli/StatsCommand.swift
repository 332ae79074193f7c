// `broker-cli stats [<topic>]`: the broker's or a topic's figures once, or `--watch` for a line of rates per refresh.
import BrokerClient
import Protocol

/// Prints STATS (or STATS <topic>) once, or refreshes with `--watch`; 1 on any failure.
func runStats(_ invocation: Invocation) -> Int32 {
    let connection: BrokerConnection
    do {
        connection = try connect(invocation)
    } catch {
        diagnose(describe(error))
        return 1
    }
    if invocation.watch { return watchStats(invocation, connection) }
    let topic = invocation.arguments.first
    do {
        let stats = try connection.stats(topic: topic)
        writeStdout(invocation.json ? StatsFormat.json(stats) : StatsFormat.table(stats))
        return 0
    } catch let .refused(error) where error.code == .noSuchTopic {
        diagnose("no such topic: \(topic ?? "")")
        return 1
    } catch {
        diagnose(describe(error))
        return 1
    }
}

/// A baseline sample, then one line (or JSON object) per interval until `--count` or SIGINT.
private func watchStats(_ invocation: Invocation, _ connection: BrokerConnection) -> Int32 {
    let interrupt = Interrupt()
    let signalSource = interrupt.install()
    defer { withExtendedLifetime(signalSource) {} }
    interrupt.watch(connection.canceller)
    var lines = WatchLines()
    var refreshes = 0
    do {
        var previous = try connection.stats()
        var previousAt = ContinuousClock.now
        if !invocation.json { writeStdout(lines.start()) }  // at once, before the first interval passes
        while true {
            // The next refresh is due one interval after the last sample, however long printing took.
            let wait = ContinuousClock.now.duration(to: previousAt.advanced(by: invocation.interval))
            if wait > .zero, interrupt.sleep(wait) { return 0 }
            let current = try connection.stats()
            let now = ContinuousClock.now
            let rates = Rate.between(previous, current, elapsed: previousAt.duration(to: now))
            writeStdout(invocation.json ? StatsFormat.json(current, rates: rates) : lines.next(current, rates))
            previous = current
            previousAt = now
            refreshes += 1
            if let count = invocation.count, refreshes >= count { return 0 }
        }
    } catch {
        if interrupt.isRequested { return 0 }
        diagnose(describe(error))
        return 1
    }
}
