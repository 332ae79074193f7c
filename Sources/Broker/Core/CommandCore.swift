// The semantics of every command: PUB, SUB, UNSUB, PING, STATS, AUTH, QUIT, over a topic store. No syscalls.
import Protocol

/// Executes the commands of one loop's sessions over a ``TopicStore``: each
/// line gets its one reply, appended to the session's output; a publish goes
/// into the store, whose rings wake the subscribers' cursors. It does no I/O:
/// writing is the transport's, scheduling the ``DeliveryScheduler``'s.
///
/// Loop thread only (one core per loop; the store is shared).
final class CommandCore {
    /// Every topic and subscription (shared by the loops). `unowned(unsafe)`:
    /// the server context, which the core holds, owns the store; unowned, a
    /// publish reads it without reference counting.
    unowned(unsafe) let store: any TopicStore
    /// Server-wide counters, connection count and the STATS line.
    let context: ServerContext
    /// The live settings as this loop last read them.
    var settings: LiveSettings
    /// Where subscriptions' cursors report that they have messages.
    unowned(unsafe) var cursorScheduler: (any CursorScheduler)!
    /// Server-wide counters.
    let stats: ServerStats
    var logger: Logger { context.logger }

    init(context: ServerContext, settings: LiveSettings) {
        self.context = context
        self.store = context.store
        self.stats = context.stats
        self.settings = settings
    }

    /// Parses and executes one line, appending its one reply.
    func run(_ line: UnsafeRawBufferPointer, on session: Session) {
        let command: CommandView
        do {
            command = try CommandParser.parse(line)
        } catch {
            reply(session) { WireEncoder.appendErr(error, to: &$0) }
            return
        }
        if session.access == .needsAuth {
            switch command {
            case .auth, .quit: break
            default:
                reply(session) { WireEncoder.appendErr(ProtocolError(.authRequired, "send AUTH <token> first"), to: &$0) }
                return
            }
        }
        switch command {
        case let .publish(topic, payload):
            publish(topic: topic, payload: payload, from: session)
        case let .subscribe(pattern, _):
            subscribe(pattern, session)
        case let .unsubscribe(pattern, _):
            unsubscribe(pattern, session)
        case .hello, .binaryPublish:
            // v2: wired by the core. Until then this broker answers them as before the parser knew them.
            reply(session) { WireEncoder.appendErr(ProtocolError(.unknownCommand, "unknown command"), to: &$0) }
        case let .ping(token):
            reply(session) { buffer in
                if let token { WireEncoder.appendPong(token, to: &buffer) } else { WireEncoder.appendPong(to: &buffer) }
            }
        case let .stats(topic):
            statistics(topic, session)
        case let .auth(token):
            authenticate(token, session)
        case .quit:
            reply(session) { WireEncoder.appendOK(to: &$0) }
            session.closeAfterFlush(reason: .quit)
        }
    }

    /// Appends a reply to the session's output. The session schedules its flush
    /// once per read (``Session/receive(_:)``), not once per reply.
    func reply(_ session: Session, _ encode: (inout [UInt8]) -> Void) {
        session.output.appendControl(encode)
    }

    private func publish(topic name: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, from session: Session) {
        let receivers: Int
        do {
            receivers = try store.publish(to: name, payload: payload, cache: &session.publishCache)
        } catch {
            reply(session) { WireEncoder.appendErr(ProtocolError(.tooManyTopics, error.text), to: &$0) }
            return
        }
        stats.published.add(1)
        reply(session) { WireEncoder.appendOK(count: receivers, to: &$0) }
    }

    private func subscribe(_ pattern: UnsafeRawBufferPointer, _ session: Session) {
        let key = Array(pattern)
        if session.subscriptions[key] != nil {
            reply(session) { WireEncoder.appendOK(to: &$0) }
            return
        }
        let limit = settings.maxSubscriptionsPerConnection
        if session.subscriptions.count >= limit {
            reply(session) {
                WireEncoder.appendErr(ProtocolError(.tooManySubscriptions, "this connection has \(limit) subscriptions, the limit"), to: &$0)
            }
            return
        }
        let subscription = Subscription(pattern: key, isPattern: Names.hasWildcard(pattern), id: session.nextSubscriptionID,
                                        connectionToken: session.token, scheduler: cursorScheduler)
        session.nextSubscriptionID += 1
        do {
            try store.subscribe(subscription)
        } catch {
            reply(session) { WireEncoder.appendErr(ProtocolError(.tooManyTopics, error.text), to: &$0) }
            return
        }
        session.subscriptions[key] = subscription
        stats.subscriptions.add(1)
        reply(session) { WireEncoder.appendOK(to: &$0) }
    }

    private func unsubscribe(_ pattern: UnsafeRawBufferPointer, _ session: Session) {
        let key = Array(pattern)
        guard let subscription = session.subscriptions.removeValue(forKey: key) else {
            reply(session) {
                WireEncoder.appendErr(ProtocolError(.notSubscribed, "no subscription to \(String(decoding: key, as: UTF8.self))"), to: &$0)
            }
            return
        }
        store.unsubscribe(subscription)
        stats.subscriptions.subtract(1)
        session.ready.removeAll { cursor in
            guard cursor.subscriptionID == subscription.id else { return false }
            cursor.isQueued = false
            return true
        }
        session.publishCache = nil
        reply(session) { WireEncoder.appendOK(to: &$0) }
    }

    /// `STATS` → `OK key=value ...`; `STATS <topic>` → that topic's figures or `ERR no-such-topic`.
    private func statistics(_ topic: UnsafeRawBufferPointer?, _ session: Session) {
        guard let topic else {
            let line = context.statisticsLine()
            reply(session) { WireEncoder.appendOK(rest: line.utf8, to: &$0) }
            return
        }
        let name = Array(topic)
        guard let figures = store.statistics(of: name) else {
            reply(session) { WireEncoder.appendErr(ProtocolError(.noSuchTopic, "no topic \(String(decoding: name, as: UTF8.self))"), to: &$0) }
            return
        }
        let line = "topic=\(String(decoding: name, as: UTF8.self)) subscribers=\(figures.subscribers) held=\(figures.held)"
            + " published_total=\(figures.published) lagging=\(figures.lagging) max_lag=\(figures.maxLag)"
        reply(session) { WireEncoder.appendOK(rest: line.utf8, to: &$0) }
    }

    /// `AUTH <token>`: OK when it matches (or no token is configured); else
    /// `ERR auth-failed`, `BYE auth-failed`, and the session closes.
    private func authenticate(_ token: UnsafeRawBufferPointer, _ session: Session) {
        guard let expected = settings.authToken else {
            reply(session) { WireEncoder.appendOK(to: &$0) }
            return
        }
        if AuthToken.matches(token, expected) {
            session.access = .granted
            reply(session) { WireEncoder.appendOK(to: &$0) }
            return
        }
        logger.warn("authentication failed", connection: session.id, peer: session.peer)
        reply(session) { WireEncoder.appendErr(ProtocolError(.authFailed, "wrong token"), to: &$0) }
        session.sayGoodbye(.authFailed, "wrong token", reason: .authFailed)
    }

    // MARK: - Lag

    /// A cursor skipped `missed` messages: `LAGGED` to the session, counters,
    /// a `$SYS.lagged` event, and a log line at most once a second per cursor.
    func reportLag(_ cursor: Cursor, missed: UInt64, session: Session) {
        let topic = cursor.topic.name
        session.output.appendControl { WireEncoder.appendLagged(topic: topic, count: missed, to: &$0) }
        stats.laggedEvents.add(1)
        stats.laggedMessages.add(missed)
        cursor.lagSinceLog &+= missed
        if topic.first != Names.reservedPrefix {  // lags on the broker's own topics are not announced (no feedback loop)
            publishSystemEvent(SystemTopics.lagged,
                               "topic=\(String(decoding: topic, as: UTF8.self)) client=\(session.id) addr=\(session.peer) missed=\(missed)")
        }
        let now = monotonicMilliseconds()
        if now - cursor.lagLoggedAtMs >= 1000 {
            logger.warn("subscription lagging on \(String(decoding: topic, as: UTF8.self)): \(cursor.lagSinceLog) messages missed",
                        connection: session.id, peer: session.peer)
            cursor.lagSinceLog = 0
            cursor.lagLoggedAtMs = now
        }
    }

    /// Publishes a broker event; a no-op when nobody subscribes to the topic.
    func publishSystemEvent(_ topic: [UInt8], _ payload: String) {
        var cache: Topic?
        let bytes = Array(payload.utf8)
        topic.withUnsafeBytes { name in
            bytes.withUnsafeBytes { payload in
                // At the topic limit broker events are dropped: clients are not refused for them.
                do {
                    _ = try store.publish(to: name, payload: payload, cache: &cache)
                } catch {}
            }
        }
    }
}

extension TopicStoreError {
    var text: String {
        switch self {
        case let .tooManyTopics(limit): "the broker holds \(limit) topics, its limit"
        }
    }
}
