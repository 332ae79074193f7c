// `broker-cli top`: the most lagged subscribers from `$SYS.lagged`, with the STATS figures, refreshed every interval.
import BrokerClient
import Protocol
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
        try connection.subscribe(SystemTopicName.lagged)
        previous = try connection.stats()
    } catch {
        diagnose(describe(error))
        return 1
    }
    diagnose("watching \(SystemTopicName.lagged) on \(connection.endpoint)")
    let signalSource = interrupt.install()
    defer { withExtendedLifetime(signalSource) {} }
    interrupt.watch(connection.canceller)

    let terminal = isatty(STDOUT_FILENO) == 1
    var aggregate = LagAggregate()
    var reportsLost: UInt64 = 0     // $SYS.lagged messages this client itself missed
    var previousAt = ContinuousClock.now
    var refreshes = 0

    /// Counts the reports that arrive until `deadline` (those already read first, without waiting).
    func collect(until deadline: ContinuousClock.Instant) throws(BrokerClientError) {
        while true {
            let event: BrokerEvent?
            do {
                event = try connection.nextEvent(until: deadline)
            } catch .timedOut {
                return
            }
            switch event {
            case nil:
                throw BrokerClientError.closed
            case let .message(message)?:
                if message.topic == SystemTopicName.lagged, let report = LagReport(payload: message.text) {
                    aggregate.add(report, at: .now)
                }
            case let .lagged(_, count)?:
                reportsLost &+= count
            case .positionLost?:
                break  // a version 1 connection never resumes
            case let .bye(code, text)?:
                throw BrokerClientError.bye(code: code, text: text)
            }
        }
    }

    do throws(BrokerClientError) {
        while true {
            // Take every report until the refresh is due.
            try collect(until: previousAt.advanced(by: invocation.interval))
            let current = try connection.stats()
            let sampledAt = ContinuousClock.now
            // Reports that came in while STATS was answered belong to this refresh too.
            try collect(until: sampledAt)
            let now = ContinuousClock.now
            let rates = Rate.between(previous, current, elapsed: previousAt.duration(to: sampledAt))
            var screen: String
            if let http = invocation.http {
                // The subscribers most behind now, as the broker itself counts them.
                screen = TopScreen.header(endpoint: connection.endpoint.description, stats: current, rates: rates)
                screen += "most behind now (http://\(http)/api/v1/connections):\n"
                screen += try behindTable(http, invocation: invocation)
            } else {
                screen = TopScreen.render(endpoint: connection.endpoint.description, stats: current, rates: rates,
                                          rows: aggregate.top(invocation.limit), now: now)
            }
            if reportsLost > 0 { screen += "(\(reportsLost) \(SystemTopicName.lagged) reports missed by broker-cli itself)\n" }
            if terminal {
                screen = "\u{1B}[H\u{1B}[2J" + screen
            } else if refreshes > 0 {
                screen = "\n" + screen
            }
            writeStdout(screen)
            aggregate.endInterval()
            previous = current
            previousAt = sampledAt
            refreshes += 1
            if let count = invocation.count, refreshes >= count { return 0 }
        }
    } catch {
        if interrupt.isRequested { return 0 }
        diagnose(describe(error))
        return 1
    }
}

/// The table of `top --http`: one page of `/api/v1/connections?sort=lag`, as many connections as rows asked for.
private func behindTable(_ http: Endpoint, invocation: Invocation) throws(BrokerClientError) -> String {
    let looked = min(invocation.limit, 10_000)
    let (status, body) = try HTTPFetch.get(http, path: BehindPage.path(limit: looked), timeout: invocation.timeout)
    guard status == 200 else { throw .protocolViolation("GET /api/v1/connections answered \(status)") }
    guard let page = BehindPage(json: body) else { throw .protocolViolation("/api/v1/connections answered something that is not its JSON") }
    return page.render(limit: invocation.limit, looked: looked)
}
