// `broker-cli sub <pattern>...`: print messages, report lag and lost positions, reconnect and resume when the connection drops.
import BrokerClient
import Protocol

/// Subscribes and prints until `--count` messages, SIGINT, or (with `--no-reconnect`) a drop.
///
/// Speaks version 2 unless `--protocol 1`; with a broker that knows only version 1 it
/// goes on in version 1 when nothing asked for version 2. After a drop it reconnects
/// with backoff and resumes: each concrete topic from its last message (`from=`).
func runSub(_ invocation: Invocation) -> Int32 {
    let interrupt = Interrupt()
    let printer = MessagePrinter(format: invocation.json ? .json : invocation.verbose ? .topicAndPayload : .payload,
                                 showSeq: invocation.showSeq)
    var lagged: UInt64 = 0
    let patterns = invocation.arguments

    func finish(_ status: Int32) -> Int32 {
        printer.out.flush()
        if invocation.verbose { diagnose("received \(printer.count) messages, \(lagged) missed (lagged)") }
        return status
    }

    var connection: BrokerConnection
    do {
        connection = try connectAndSubscribe(invocation, patterns, interrupt)
    } catch {
        diagnose(describe(error))
        return 1
    }
    // Until now Ctrl-C simply ends the process; from here on it ends the loop with status 0.
    let signalSource = interrupt.install()
    interrupt.watch(connection.canceller)
    defer { withExtendedLifetime(signalSource) {} }
    while true {
        var reason = BrokerClientError.closed.description
        var done = false
        do {
            _ = try connection.receive(beforeBlocking: { printer.out.flush() }) { event in
                switch event {
                case let .message(message):
                    printer.print(message)
                    if let limit = invocation.count, printer.count >= limit {
                        done = true
                        return false
                    }
                case let .event(.lagged(topic, count)):
                    lagged += count
                    printer.out.flush()
                    diagnose("lagged on \(topic): \(count) messages missed")
                case let .event(.positionLost(topic, previous, current)):
                    printer.out.flush()
                    diagnose(positionLostText(topic: topic, previous: previous, current: current))
                case let .event(.bye(code, text)):
                    reason = BrokerClientError.bye(code: code, text: text).description
                    return false
                case .event(.message):
                    break  // messages come lent, as .message
                }
                return true
            }
        } catch {
            reason = error.description
        }
        if done { return finish(0) }
        if interrupt.isRequested { return finish(0) }
        printer.out.flush()
        guard invocation.reconnect else {
            diagnose("connection lost: \(reason)")
            return finish(1)
        }
        diagnose("connection lost: \(reason); reconnecting")
        interrupt.watch(nil)
        let state = connection.resumeState()
        // With several brokers the next one is tried first: the one that dropped is likely gone.
        let next = (invocation.endpoints.firstIndex(of: connection.endpoint) ?? 0) + 1
        guard let resumed = reconnect(invocation, state, interrupt, from: next) else { return finish(interrupt.isRequested ? 0 : 1) }
        connection = resumed
    }
}

/// The stderr line for a position the broker's stream does not have.
func positionLostText(topic: String, previous: StreamPosition, current: StreamPosition) -> String {
    "position lost on \(topic): \(previous) is not in the broker's stream, which is at \(current); "
        + "what was published in between is unknown"
}

/// Connects, switches to version 2 (see ``useVersion(_:_:)``) and sends every SUB with
/// the invocation's options; prints `subscribed to ...` on stderr once all are active.
private func connectAndSubscribe(_ invocation: Invocation, _ patterns: [String], _ interrupt: Interrupt) throws(BrokerClientError) -> BrokerConnection {
    let connection = try connect(invocation)
    interrupt.watch(connection.canceller)
    try useVersion(connection, invocation)
    var options = SubscribeOptions(from: invocation.from, last: invocation.last)
    options.group = invocation.group.map { Array($0.utf8) }
    for pattern in patterns {
        do {
            try connection.subscribe(pattern, options: options)
        } catch let .refused(error) {
            throw .refused(ProtocolError(error.code, "\(pattern): \(error.text)"))
        }
    }
    diagnose("subscribed to \(patterns.joined(separator: " ")) on \(connection.endpoint)")
    return connection
}

/// Says `HELLO 2` unless `--protocol 1`. A broker that knows only version 1 answers
/// `unknown-command`: then the connection stays in version 1, unless the invocation
/// needs version 2 (`--protocol 2`, `--from`, `--last`, `--group`, `--seq`).
private func useVersion(_ connection: BrokerConnection, _ invocation: Invocation) throws(BrokerClientError) {
    guard (invocation.protocolVersion ?? .v2) == .v2 else { return }
    do {
        try connection.hello(.v2, timeout: invocation.timeout)
    } catch let .refused(error) where error.code == .unknownCommand && !invocation.needsVersion2 {
        return
    } catch let .refused(error) where error.code == .unknownCommand {
        throw .refused(ProtocolError(error.code, "the broker does not speak protocol version 2 (\(error.text))"))
    }
}

/// Tries to connect again with exponential backoff (100 ms doubling to 5 s), each time to
/// every broker in turn from `start` (see ``connect(_:version:from:)``), and resume
/// `state`, until it works, SIGINT arrives (nil), or the broker refuses a SUB or the
/// token (nil, after saying why).
private func reconnect(_ invocation: Invocation, _ state: ResumeState, _ interrupt: Interrupt, from start: Int) -> BrokerConnection? {
    var delay = Duration.milliseconds(100)
    var state = state
    while true {
        if interrupt.sleep(delay) { return nil }
        do {
            let connection = try connect(invocation, from: start)
            interrupt.watch(connection.canceller)
            if state.version == .v2 {
                try useVersion(connection, invocation)
                if connection.version == .v1 { state.version = .v1 }  // the broker now knows only version 1
            }
            try connection.resume(state)
            diagnose("subscribed to \(invocation.arguments.joined(separator: " ")) on \(connection.endpoint)")
            return connection
        } catch let .refused(error) {
            diagnose("\(error.code) \(error.text)")
            return nil
        } catch .authenticationFailed {
            diagnose(BrokerClientError.authenticationFailed.description)
            return nil
        } catch {
            // Still unreachable: wait longer.
        }
        delay = min(delay * 2, .seconds(5))
    }
}
