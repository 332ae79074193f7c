// `broker-cli top`: the most lagged subscribers from `$SYS.lagged`, with the STATS figures, refreshed every interval.
import BrokerClient
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Subscribes to `$SYS.lagged` and redraws the table every interval until `--count` or SIGINT.
func runTop(_ invocation: Invocation) -> Int32 {
    let interrupt = Interrupt()
    let connection: BrokerConnection
    var previous: BrokerStats
    do {
        connection = try connect(invocation)
        try connection.subscribe("$SYS.lagged")
        previous = try connection.stats()
    } catch {
        diagnose(error.description)
        return 1
    }
    diagnose("watching $SYS.lagged on \(invocation.endpoint)")
    let signalSource = interrupt.install()
    defer { withExtendedLifetime(signalSource) {} }
    interrupt.watch(connection.canceller)

    let terminal = isatty(STDOUT_FILENO) == 1
    var aggregate = LagAggregate()
    var reportsLost: UInt64 = 0     // $SYS.lagged messages this client itself missed
    var previousAt = ContinuousClock.now
    var refreshes = 0
    do throws(BrokerClientError) {
        while true {
            let due = previousAt.advanced(by: invocation.interval)
            // Take every report until the refresh is due.
            collecting: while true {
                let event: BrokerEvent?
                do {
                    event = try connection.nextEvent(until: due)
                } catch .timedOut {
                    break collecting
                }
                switch event {
                case nil:
                    if interrupt.isRequested { return 0 }
                    throw BrokerClientError.closed
                case let .message(message)?:
                    if message.topic == "$SYS.lagged", let report = LagReport(payload: message.text) {
                        aggregate.add(report, at: .now)
                    }
                case let .lagged(_, count)?:
                    reportsLost &+= count
                case let .bye(code, text)?:
                    throw BrokerClientError.bye(code: code, text: text)
                }
            }
            let current = try connection.stats()
            let now = ContinuousClock.now
            let rates = Rate.between(previous, current, elapsed: previousAt.duration(to: now))
            var screen = TopScreen.render(endpoint: invocation.endpoint.description, stats: current, rates: rates,
                                          rows: aggregate.top(invocation.limit), now: now)
            if reportsLost > 0 { screen += "(\(reportsLost) $SYS.lagged reports missed by broker-cli itself)\n" }
            if terminal {
                screen = "\u{1B}[H\u{1B}[2J" + screen
            } else if refreshes > 0 {
                screen = "\n" + screen
            }
            writeStdout(screen)
            aggregate.endInterval()
            previous = current
            previousAt = now
            refreshes += 1
            if let count = invocation.count, refreshes >= count { return 0 }
        }
    } catch {
        if interrupt.isRequested { return 0 }
        diagnose(error.description)
        return 1
    }
}
