// Executing client commands: PUB, SUB, UNSUB, PING, QUIT.
import Channels
import Protocol

extension EventLoop {
    /// Parses and executes one line, appending its one reply.
    func run(_ line: UnsafeRawBufferPointer, on connection: Connection) {
        let command: CommandView
        do {
            command = try CommandParser.parse(line)
        } catch {
            reply(connection) { WireEncoder.appendErr(error, to: &$0) }
            return
        }
        if !connection.authenticated {
            switch command {
            case .auth, .quit: break
            default:
                reply(connection) { WireEncoder.appendErr(ProtocolError(.authRequired, "send AUTH <token> first"), to: &$0) }
                return
            }
        }
        switch command {
        case let .publish(topic, payload):
            publish(topic: topic, payload: payload, from: connection)
        case let .subscribe(pattern):
            subscribe(pattern, connection)
        case let .unsubscribe(pattern):
            unsubscribe(pattern, connection)
        case let .ping(token):
            reply(connection) { buffer in
                if let token { WireEncoder.appendPong(token, to: &buffer) } else { WireEncoder.appendPong(to: &buffer) }
            }
        case let .stats(topic):
            statistics(topic, connection)
        case let .auth(token):
            authenticate(token, connection)
        case .quit:
            reply(connection) { WireEncoder.appendOK(to: &$0) }
            dropSubscriptions(connection)
            connection.closeAfterFlush = true
            connection.pendingCloseReason = .quit
            updateInterest(connection)
        }
    }

    func reply(_ connection: Connection, _ encode: (inout [UInt8]) -> Void) {
        connection.output.appendControl(encode)
        markDirty(connection)
    }

    private func publish(topic name: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, from connection: Connection) {
        var topic: Topic?
        if let cached = connection.publishCache, !cached.retired.isSet, cached.hasName(name) {
            topic = cached
        } else {
            do {
                topic = try context.registry.topicForPublish(name)
            } catch {
                reply(connection) { WireEncoder.appendErr(ProtocolError(.tooManyTopics, error.text), to: &$0) }
                return
            }
            connection.publishCache = topic
        }
        var receivers = 0
        if var target = topic {
            let message = Message.make(topic: name, payload: payload)
            receivers = target.sender.send(message)
            if receivers == 0 && target.sender.isClosed {
                // A sweep freed the topic meanwhile: publish to the one made anew.
                do {
                    if let fresh = try context.registry.topicForPublish(name) {
                        target = fresh
                        receivers = fresh.sender.send(message)
                    }
                } catch {
                    reply(connection) { WireEncoder.appendErr(ProtocolError(.tooManyTopics, error.text), to: &$0) }
                    return
                }
                connection.publishCache = target
            }
            target.published.add(1)
        }
        context.stats.published.add(1)
        reply(connection) { WireEncoder.appendOK(count: receivers, to: &$0) }
    }

    private func subscribe(_ pattern: UnsafeRawBufferPointer, _ connection: Connection) {
        let key = Array(pattern)
        if connection.subscriptions[key] != nil {
            reply(connection) { WireEncoder.appendOK(to: &$0) }
            return
        }
        let limit = settings.maxSubscriptionsPerConnection
        if connection.subscriptions.count >= limit {
            reply(connection) {
                WireEncoder.appendErr(ProtocolError(.tooManySubscriptions, "this connection has \(limit) subscriptions, the limit"), to: &$0)
            }
            return
        }
        let subscription = Subscription(pattern: key, isPattern: Names.hasWildcard(pattern), id: connection.nextSubscriptionID,
                                        connectionToken: connection.token, scheduler: self)
        connection.nextSubscriptionID += 1
        do {
            try context.registry.subscribe(subscription)
        } catch {
            reply(connection) { WireEncoder.appendErr(ProtocolError(.tooManyTopics, error.text), to: &$0) }
            return
        }
        connection.subscriptions[key] = subscription
        context.stats.subscriptions.add(1)
        reply(connection) { WireEncoder.appendOK(to: &$0) }
    }

    private func unsubscribe(_ pattern: UnsafeRawBufferPointer, _ connection: Connection) {
        let key = Array(pattern)
        guard let subscription = connection.subscriptions.removeValue(forKey: key) else {
            reply(connection) {
                WireEncoder.appendErr(ProtocolError(.notSubscribed, "no subscription to \(String(decoding: key, as: UTF8.self))"), to: &$0)
            }
            return
        }
        context.registry.unsubscribe(subscription)
        context.stats.subscriptions.subtract(1)
        connection.ready.removeAll { cursor in
            guard cursor.subscriptionID == subscription.id else { return false }
            cursor.isQueued = false
            return true
        }
        connection.publishCache = nil
        reply(connection) { WireEncoder.appendOK(to: &$0) }
    }
}

extension EventLoop {
    /// `STATS` → `OK key=value ...`; `STATS <topic>` → that topic's figures or `ERR no-such-topic`.
    private func statistics(_ topic: UnsafeRawBufferPointer?, _ connection: Connection) {
        guard let topic else {
            let line = context.statisticsLine()
            reply(connection) { WireEncoder.appendOK(rest: line.utf8, to: &$0) }
            return
        }
        let name = Array(topic)
        guard let figures = context.registry.statistics(of: name) else {
            reply(connection) { WireEncoder.appendErr(ProtocolError(.noSuchTopic, "no topic \(String(decoding: name, as: UTF8.self))"), to: &$0) }
            return
        }
        let line = "topic=\(String(decoding: name, as: UTF8.self)) subscribers=\(figures.subscribers) held=\(figures.held)"
            + " published_total=\(figures.published) lagging=\(figures.lagging) max_lag=\(figures.maxLag)"
        reply(connection) { WireEncoder.appendOK(rest: line.utf8, to: &$0) }
    }
}

extension EventLoop {
    /// `AUTH <token>`: OK when it matches (or no token is configured); else
    /// `ERR auth-failed`, `BYE auth-failed`, and the connection closes.
    private func authenticate(_ token: UnsafeRawBufferPointer, _ connection: Connection) {
        guard let expected = settings.authToken else {
            reply(connection) { WireEncoder.appendOK(to: &$0) }
            return
        }
        if AuthToken.matches(token, expected) {
            connection.authenticated = true
            reply(connection) { WireEncoder.appendOK(to: &$0) }
            return
        }
        context.logger.warn("authentication failed", connection: connection.id, peer: connection.peer)
        reply(connection) { WireEncoder.appendErr(ProtocolError(.authFailed, "wrong token"), to: &$0) }
        sayGoodbye(connection, code: .authFailed, text: "wrong token", reason: .authFailed)
    }
}

extension ErrorCode {
    /// Extension: a command other than AUTH or QUIT before a successful AUTH.
    public static let authRequired = ErrorCode(rawValue: "auth-required")
    /// Extension: AUTH with a wrong token (then BYE with the same code).
    public static let authFailed = ErrorCode(rawValue: "auth-failed")
    /// Extension: `STATS <topic>` for a topic that does not exist.
    public static let noSuchTopic = ErrorCode(rawValue: "no-such-topic")
    /// Extension: creating a topic would pass `max_topics`.
    public static let tooManyTopics = ErrorCode(rawValue: "too-many-topics")
}

extension RegistryError {
    var text: String {
        switch self {
        case let .tooManyTopics(limit): "the broker holds \(limit) topics, its limit"
        }
    }
}
