// `broker-cli sub <pattern>...`: print messages, report lag, reconnect with backoff when the connection drops.
import BrokerClient
import Protocol

/// Subscribes and prints until `--count` messages, SIGINT, or (with `--no-reconnect`) a drop.
func runSub(_ invocation: Invocation) -> Int32 {
    let interrupt = Interrupt()
    let printer = MessagePrinter(format: invocation.json ? .json : invocation.verbose ? .topicAndPayload : .payload)
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
        var reason: String
        do {
            readLoop: while true {
                guard let event = try connection.nextEvent(beforeBlocking: { printer.out.flush() }) else {
                    reason = BrokerClientError.closed.description
                    break readLoop
                }
                switch event {
                case let .message(message):
                    printer.print(message)
                    if let limit = invocation.count, printer.count >= limit { return finish(0) }
                case let .lagged(topic, count):
                    lagged += count
                    printer.out.flush()
                    diagnose("lagged on \(topic): \(count) messages missed")
                case .positionLost:
                    break  // a version 1 connection never resumes
                case let .bye(code, text):
                    reason = BrokerClientError.bye(code: code, text: text).description
                    break readLoop
                }
            }
        } catch {
            reason = error.description
        }
        if interrupt.isRequested { return finish(0) }
        printer.out.flush()
        guard invocation.reconnect else {
            diagnose("connection lost: \(reason)")
            return finish(1)
        }
        diagnose("connection lost: \(reason); reconnecting")
        interrupt.watch(nil)
        guard let next = reconnect(invocation, patterns, interrupt) else { return finish(interrupt.isRequested ? 0 : 1) }
        connection = next
    }
}

/// Connects and sends every SUB; prints `subscribed to ...` on stderr once all are active.
private func connectAndSubscribe(_ invocation: Invocation, _ patterns: [String], _ interrupt: Interrupt) throws(BrokerClientError) -> BrokerConnection {
    let connection = try connect(invocation)
    interrupt.watch(connection.canceller)
    for pattern in patterns {
        do {
            try connection.subscribe(pattern)
        } catch let .refused(error) {
            throw .refused(ProtocolError(error.code, "\(pattern): \(error.text)"))
        }
    }
    diagnose("subscribed to \(patterns.joined(separator: " ")) on \(invocation.endpoint)")
    return connection
}

/// Tries to connect again with exponential backoff (100 ms doubling to 5 s) until it works,
/// SIGINT arrives (nil), or the broker refuses a SUB or the token (nil, after saying why).
private func reconnect(_ invocation: Invocation, _ patterns: [String], _ interrupt: Interrupt) -> BrokerConnection? {
    var delay = Duration.milliseconds(100)
    while true {
        if interrupt.sleep(delay) { return nil }
        do {
            let connection = try connectAndSubscribe(invocation, patterns, interrupt)
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
