// The semantics of every command: PUB, SUB, UNSUB, PING, STATS, AUTH, QUIT, over a topic store. No syscalls.
import Protocol

/// Executes the commands of one loop's sessions over a ``TopicStore``: each
/// line gets its one reply, appended to the session's output; a publish goes
/// into the store, whose rings wake the subscribers' cursors. It does no I/O:
/// writing is the transport's, scheduling the ``DeliveryScheduler``'s.
///
/// Loop thread only (one core per loop; the store is shared).
final class CommandCore {
    /// Every topic and subscription (shared by the loops). A strong `let`: a call
    /// through it borrows the core's reference (an `unowned(unsafe)` one was
    /// retained and released around every publish).
    let store: any TopicStore
    /// Server-wide counters, connection count and the STATS line.
    let context: ServerContext
    /// The live settings as this loop last read them.
    var settings: LiveSettings
    /// The loop's session of a connection token (for replies that come later); set by the loop.
    var findSession: ((UInt64) -> Session?)?
    /// Where subscriptions' cursors report that they have messages.
    unowned(unsafe) var cursorScheduler: CursorScheduler!
    /// Server-wide counters.
    let stats: ServerStats
    /// Publishes not yet added to `stats.published`: the sessions add them once per
    /// read (``countPublishes()``), not with an atomic increment per publish.
    private var uncountedPublishes: UInt64 = 0
    /// Publishes on this loop, and the receivers they reached, since the scheduler last
    /// looked (``DeliveryScheduler/flushAll()``: whether to coalesce this turn's deliveries).
    /// (Unchecked exclusivity: added to on every publish; a run-time check is ~76 instructions.)
    @exclusivity(unchecked) var turnPublishes = 0
    @exclusivity(unchecked) var turnReceivers = 0
    var logger: Logger { context.logger }

    /// `store`: where topics live; the server context's local store unless given (a test
    /// gives a store that answers publishes later).
    init(context: ServerContext, settings: LiveSettings, store: (any TopicStore)? = nil) {
        self.context = context
        self.store = store ?? context.store
        self.stats = context.stats
        self.settings = settings
    }

    /// Parses and executes one line, appending its one reply. Returns what the
    /// framer must do next: read (or skip) a `BPUB` payload, or go on.
    @discardableResult
    func run(_ line: UnsafeRawBufferPointer, on session: Session) -> FramerDecision {
        let command: CommandView
        do {
            command = try CommandParser.parse(line, version: Int(session.protocolVersion))
        } catch {
            reply(session) { WireEncoder.appendErr(error, to: &$0) }
            if error.losesFraming {
                session.sayGoodbye(.badFraming, "cannot tell where the BPUB payload ends", reason: .badFraming)
            }
            return .proceed
        }
        if session.access == .needsAuth {
            switch command {
            case .auth, .quit: break
            case let .binaryPublish(_, size, _):
                // The payload is taken off the wire before the refusal, as for any BPUB.
                session.pendingBinaryPublish = PendingBinaryPublish(
                    topic: [], refusal: ProtocolError(.authRequired, "send AUTH <token> first"))
                return .skipPayload(size)
            default:
                reply(session) { WireEncoder.appendErr(ProtocolError(.authRequired, "send AUTH <token> first"), to: &$0) }
                return .proceed
            }
        }
        switch command {
        case let .publish(topic, payload):
            // A logged-in user's grant is checked out of line: the publish path stays as it was.
            if session.user != nil, refusesPublish(to: topic, session) { return .proceed }
            publish(topic: topic, payload: payload, lineSafe: true, from: session)
        case let .binaryPublish(topic, size, refusal):
            return startBinaryPublish(topic: topic, size: size, refusal: refusal?.error, session)
        case let .hello(version):
            reply(session) { WireEncoder.appendOK(version: version, to: &$0) }
            session.protocolVersion = UInt8(version)
        case let .subscribe(pattern, options):
            subscribe(pattern, options: options, session)
        case let .unsubscribe(pattern, group):
            unsubscribe(pattern, group: group, session)
        case let .ping(token):
            reply(session) { buffer in
                if let token { WireEncoder.appendPong(token, to: &buffer) } else { WireEncoder.appendPong(to: &buffer) }
            }
        case let .stats(topic):
            statistics(topic, session)
        case let .auth(user, token):
            authenticate(user: user, token: token, session)
        case .quit:
            reply(session) { WireEncoder.appendOK(to: &$0) }
            session.closeAfterFlush(reason: .quit)
        }
        return .proceed
    }

    // MARK: - BPUB

    /// The `BPUB` line is read: the framer takes the payload next (or skips one over
    /// `max_payload_bytes`); the reply waits for it.
    private func startBinaryPublish(topic: UnsafeRawBufferPointer, size: UInt64, refusal: ProtocolError?,
                                    _ session: Session) -> FramerDecision {
        let limit = settings.maxPayloadBytes
        if size > UInt64(limit) {
            let refusal = ProtocolError(.payloadTooLarge, "the payload is \(size) bytes, more than max_payload_bytes \(limit)")
            session.pendingBinaryPublish = PendingBinaryPublish(topic: [], refusal: refusal)
            return .skipPayload(size)
        }
        session.pendingBinaryPublish = PendingBinaryPublish(topic: Array(topic), refusal: refusal)
        return .readPayload(Int(size))
    }

    /// The payload of the pending `BPUB` is off the wire (nil: it was skipped): publish
    /// it, or give the refusal the line earned.
    func finishBinaryPublish(payload: UnsafeRawBufferPointer?, on session: Session) {
        guard let pending = session.pendingBinaryPublish else { return }
        session.pendingBinaryPublish = nil
        if let refusal = pending.refusal {
            reply(session) { WireEncoder.appendErr(refusal, to: &$0) }
            return
        }
        guard let payload else { return }
        pending.topic.withUnsafeBytes { topic in
            if session.user != nil, refusesPublish(to: topic, session) { return }
            publish(topic: topic, payload: payload, lineSafe: nil, from: session)
        }
    }

    /// The bytes after a `BPUB` payload were not its line ending: nothing is published
    /// or answered for it; `BYE bad-framing`, and the session closes.
    func refuseFraming(on session: Session) {
        session.pendingBinaryPublish = nil
        session.sayGoodbye(.badFraming, "a BPUB payload was not followed by LF or CRLF", reason: .badFraming)
    }

    /// Appends a reply to the session's output. The session schedules its flush
    /// once per read (``Session/receive(_:)``), not once per reply.
    func reply(_ session: Session, _ encode: (inout [UInt8]) -> Void) {
        session.output.appendControl(encode)
    }

    /// Publishes and replies `OK <n>` (version 1) or `OK <n> <epoch>:<seq>` (version 2).
    /// `lineSafe`: whether the payload can be one line (nil: look; a `PUB` payload can).
    // Always inlined into `run`: out of line it costs a call and what inlining lets the
    // compiler keep in registers (callgrind: 32 instructions per PUB).
    @inline(__always)
    private func publish(topic name: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, lineSafe: Bool?,
                         from session: Session) {
        if store.answersPublishesLater {
            publishLater(topic: name, payload: payload, lineSafe: lineSafe, from: session)
            return
        }
        let outcome: PublishOutcome
        do {
            outcome = try store.publish(to: name, payload: payload, lineSafe: lineSafe, cache: &session.publishCache, createsStream: true)
        } catch {
            reply(session) { WireEncoder.appendErr(error.protocolError, to: &$0) }
            return
        }
        uncountedPublishes &+= 1
        turnPublishes &+= 1
        turnReceivers &+= outcome.receivers
        session.publishedSinceInput &+= 1
        if session.protocolVersion == 1 {
            reply(session) { WireEncoder.appendOK(count: outcome.receivers, to: &$0) }
            return
        }
        let epoch = session.publishCache.map { store.epoch(of: $0) } ?? store.makeEpoch()
        reply(session) { WireEncoder.appendOK(count: outcome.receivers, epoch: epoch, seq: outcome.seq, to: &$0) }
    }

    /// A publish that the store answers later: the reply's place is kept in the session's
    /// output (what follows waits behind it), and filled when the answer comes.
    private func publishLater(topic name: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, lineSafe: Bool?,
                              from session: Session) {
        let slot = session.output.reserveReply()
        let token = session.token
        let version = session.protocolVersion
        session.publishedSinceInput &+= 1
        store.publishLater(to: name, payload: payload, lineSafe: lineSafe) { [weak self] result in
            self?.answerPublish(result, token: token, slot: slot, version: version)
        }
    }

    /// Writes a publish's reply in the place kept for it, if its session is still here.
    private func answerPublish(_ result: Result<PublishReceipt, TopicStoreError>, token: UInt64, slot: Int, version: UInt8) {
        if case .success = result { uncountedPublishes &+= 1 }
        guard let session = findSession?(token), !session.state.isClosed else { return }
        session.output.fulfilReply(slot) { buffer in
            switch result {
            case let .success(receipt) where version == 1:
                WireEncoder.appendOK(count: receipt.receivers, to: &buffer)
            case let .success(receipt):
                WireEncoder.appendOK(count: receipt.receivers, epoch: receipt.epoch, seq: receipt.seq, to: &buffer)
            case let .failure(error):
                WireEncoder.appendErr(error.protocolError, to: &buffer)
            }
        }
        countPublishes()
        session.replyArrived()
    }

    private func subscribe(_ pattern: UnsafeRawBufferPointer, options: SubscribeOptions, _ session: Session) {
        var start = SubscriptionStart.next
        if let from = options.from {
            start = .after(epoch: from.epoch, seq: from.seq)
        } else if let last = options.last {
            start = .last(last)
        }
        if let user = session.user, !user.maySubscribe(UnsafeRawBufferPointer(pattern)) {
            denyPermission(session, "subscribe to", pattern)
            return
        }
        let key = CommandCore.subscriptionKey(pattern, group: options.group)
        if let existing = session.subscriptions[key] {
            // A repeat changes nothing and replays nothing; its reply is as for a new one.
            replySubscribed(session, existing.isPattern ? nil : store.head(of: existing.pattern))
            return
        }
        let limit = settings.maxSubscriptionsPerConnection
        if session.subscriptions.count >= limit {
            reply(session) {
                WireEncoder.appendErr(ProtocolError(.tooManySubscriptions, "this connection has \(limit) subscriptions, the limit"), to: &$0)
            }
            return
        }
        // Without a group the key is the pattern itself: one array serves both (an idle
        // connection's subscription is one allocation smaller).
        let subscription = Subscription(pattern: options.group == nil ? key : Array(pattern), isPattern: Names.hasWildcard(pattern),
                                        connectionToken: session.token, scheduler: cursorScheduler,
                                        readsVersionTwo: session.protocolVersion == 2)
        if store.answersPublishesLater {
            subscribeLater(subscription, key: key, start: start, group: options.group, session)
            return
        }
        let head: StreamHead?
        do {
            head = try store.subscribe(subscription, start: start, group: options.group)
        } catch {
            reply(session) { WireEncoder.appendErr(error.protocolError, to: &$0) }
            return
        }
        session.subscriptions[key] = subscription
        stats.subscriptions.add(1)
        replySubscribed(session, head)
    }

    /// A subscription that the store answers later: it is the session's at once (an `UNSUB`
    /// or a close before the answer detaches it), and the reply's place is kept.
    private func subscribeLater(_ subscription: Subscription, key: [UInt8], start: SubscriptionStart, group: [UInt8]?,
                                _ session: Session) {
        session.subscriptions[key] = subscription
        stats.subscriptions.add(1)
        let slot = session.output.reserveReply()
        let token = session.token
        store.subscribeLater(subscription, start: start, group: group) { [weak self] result in
            guard let self, let session = findSession?(token), !session.state.isClosed else { return }
            if case .failure = result, session.subscriptions[key] === subscription {
                session.subscriptions[key] = nil
                stats.subscriptions.subtract(1)
            }
            session.output.fulfilReply(slot) { buffer in
                switch result {
                case let .success(head?) where session.protocolVersion == 2:
                    WireEncoder.appendOK(epoch: head.epoch, head: head.head, to: &buffer)
                case .success:
                    WireEncoder.appendOK(to: &buffer)
                case let .failure(error):
                    WireEncoder.appendErr(error.protocolError, to: &buffer)
                }
            }
            session.replyArrived()
        }
    }

    /// A subscription's identity on its connection: its string, and its group (after a
    /// space, which no pattern holds).
    static func subscriptionKey(_ pattern: UnsafeRawBufferPointer, group: [UInt8]?) -> [UInt8] {
        guard let group else { return Array(pattern) }
        return Array(pattern) + [0x20] + group
    }

    /// `OK`, or in version 2 for a concrete topic `OK <epoch> <head>`.
    private func replySubscribed(_ session: Session, _ head: StreamHead?) {
        guard session.protocolVersion == 2, let head else {
            reply(session) { WireEncoder.appendOK(to: &$0) }
            return
        }
        reply(session) { WireEncoder.appendOK(epoch: head.epoch, head: head.head, to: &$0) }
    }

    private func unsubscribe(_ pattern: UnsafeRawBufferPointer, group: [UInt8]?, _ session: Session) {
        let key = CommandCore.subscriptionKey(pattern, group: group)
        guard let subscription = session.subscriptions.removeValue(forKey: key) else {
            let named = String(decoding: pattern, as: UTF8.self) + (group.map { " in group " + String(decoding: $0, as: UTF8.self) } ?? "")
            reply(session) {
                WireEncoder.appendErr(ProtocolError(.notSubscribed, "no subscription to \(named)"), to: &$0)
            }
            return
        }
        detach(subscription, from: session)
        session.publishCache = nil
        reply(session) { WireEncoder.appendOK(to: &$0) }
    }

    /// Ends a subscription already taken out of the session's table: the store lets go of it
    /// and its cursors leave the session's ready list (nothing more is written for it).
    private func detach(_ subscription: Subscription, from session: Session) {
        // Its cursors leave the ready list and the lag figures first: the store's unsubscribe
        // unlinks them from it.
        session.forgetLags(ofSubscription: subscription)
        session.ready.removeAll { cursor in
            guard cursor.subscription === subscription else { return false }
            cursor.isQueued = false
            return true
        }
        store.unsubscribe(subscription)
        stats.subscriptions.subtract(1)
    }

    /// `STATS` → `OK key=value ...`; `STATS <topic>` → that topic's figures or `ERR no-such-topic`.
    /// Adds the publishes made since the last call to the server's count.
    @inline(__always)
    func countPublishes() {
        if uncountedPublishes != 0 {
            stats.published.add(uncountedPublishes)
            uncountedPublishes = 0
        }
    }

    private func statistics(_ topic: UnsafeRawBufferPointer?, _ session: Session) {
        countPublishes()  // the figures include this read's publishes before the STATS
        guard let topic else {
            let line = context.statisticsLine()
            reply(session) { WireEncoder.appendOK(rest: line.utf8, to: &$0) }
            return
        }
        if let user = session.user, !user.maySubscribe(topic) {
            denyPermission(session, "see the figures of", topic)
            return
        }
        let name = Array(topic)
        guard let figures = store.statistics(of: name) else {
            reply(session) { WireEncoder.appendErr(ProtocolError(.noSuchTopic, "no topic \(String(decoding: name, as: UTF8.self))"), to: &$0) }
            return
        }
        let line = "topic=\(String(decoding: name, as: UTF8.self)) subscribers=\(figures.subscribers) held=\(figures.held)"
            + " published_total=\(figures.published) lagging=\(figures.lagging) max_lag=\(figures.maxLag)"
            + " epoch=\(String(decoding: figures.epoch, as: UTF8.self)) head=\(figures.head) held_bytes=\(figures.heldBytes)"
        reply(session) { WireEncoder.appendOK(rest: line.utf8, to: &$0) }
    }

    /// `AUTH <token>` and `AUTH <user> <token>`: OK when the token is `auth_token` (no limits)
    /// or the user's token in `acl_file` (the user's grant), or when neither is configured;
    /// else `ERR auth-failed`, `BYE auth-failed`, and the session closes. Without `acl_file`,
    /// a user name is not checked (the token is compared with `auth_token`).
    private func authenticate(user: UnsafeRawBufferPointer?, token: UnsafeRawBufferPointer, _ session: Session) {
        let list = settings.access.list
        let expected = settings.authToken
        if expected == nil && list == nil {
            reply(session) { WireEncoder.appendOK(to: &$0) }
            return
        }
        if let user, let list {
            if let grant = list.authenticate(user: user, token: token) {
                session.access = .granted
                session.user = grant
                session.publishCache = nil
                logger.info("logged in as user \(grant.name)", connection: session.id, peer: session.peer)
                reply(session) { WireEncoder.appendOK(to: &$0) }
                return
            }
        } else if let expected, AuthToken.matches(token, expected) {
            session.access = .granted
            session.user = nil
            reply(session) { WireEncoder.appendOK(to: &$0) }
            return
        }
        let reason = user == nil ? "wrong token" : "wrong user or token"
        logger.warn("authentication failed", connection: session.id, peer: session.peer)
        reply(session) { WireEncoder.appendErr(ProtocolError(.authFailed, reason), to: &$0) }
        session.sayGoodbye(.authFailed, reason, reason: .authFailed)
    }

    /// A verified client certificate named `commonName`: the session logs in as the
    /// `acl_file` user of that name if it allows certificate logins.
    func certificateVerified(commonName: String, on session: Session) {
        guard let list = settings.access.list, let grant = list.certificateUser(commonName: commonName) else { return }
        session.access = .granted
        session.user = grant
        logger.info("logged in as user \(grant.name) by its client certificate", connection: session.id, peer: session.peer)
    }

    /// Whether the session's user may not publish to `topic`, after answering
    /// `ERR permission-denied`. Only a valid, unreserved topic is checked: others get the
    /// store's own refusal (`bad-topic`, `reserved-topic`) first.
    @inline(never)
    private func refusesPublish(to topic: UnsafeRawBufferPointer, _ session: Session) -> Bool {
        guard let user = session.user, !user.mayPublish(topic), Names.validateTopic(topic) == nil, !Names.isReserved(topic) else {
            return false
        }
        denyPermission(session, "publish to", topic)
        return true
    }

    /// `ERR permission-denied` for a command outside the session's grant.
    private func denyPermission(_ session: Session, _ verb: String, _ name: UnsafeRawBufferPointer) {
        let user = session.user?.name ?? "?"
        let text = "user \(user) may not \(verb) \(String(decoding: name, as: UTF8.self))"
        reply(session) { WireEncoder.appendErr(ProtocolError(.permissionDenied, text), to: &$0) }
    }

    /// Applies a reloaded `acl_file` to an open session: a logged-in user gets its new grant and
    /// loses, with a `REVOKED` frame each, the subscriptions it no longer allows; a user no
    /// longer in the file is logged out (`BYE auth-failed`). Without any `acl_file` now, the
    /// session has no limits. Sessions that logged in with `auth_token`, or before logins were
    /// required, are not changed.
    func applyAccess(to session: Session) {
        guard let user = session.user, !session.state.isEnding else { return }
        guard let list = settings.access.list else {
            session.user = nil
            return
        }
        guard let grant = list.user(user.name) else {
            logger.info("user \(user.name) is no longer in acl_file: logged out", connection: session.id, peer: session.peer)
            session.sayGoodbye(.authFailed, "user \(user.name) is no longer in acl_file", reason: .authFailed)
            return
        }
        session.user = grant
        session.publishCache = nil
        var revoked: [([UInt8], Subscription)] = []
        session.subscriptions.forEachKeyed { key, subscription in
            if !grant.maySubscribe(subscription.pattern) { revoked.append((key, subscription)) }
        }
        for (key, subscription) in revoked {
            _ = session.subscriptions.removeValue(forKey: key)
            detach(subscription, from: session)
            let group: [UInt8]? = key.count > subscription.pattern.count ? Array(key[(subscription.pattern.count + 1)...]) : nil
            let text = "permission-denied user \(grant.name) may no longer subscribe to it"
            reply(session) { WireEncoder.appendRevoked(subscription.pattern, group: group, text: text, to: &$0) }
            logger.info("subscription to \(String(decoding: subscription.pattern, as: UTF8.self)) revoked: user \(grant.name) may no longer subscribe to it",
                        connection: session.id, peer: session.peer)
        }
        if !revoked.isEmpty { session.replyArrived() }
    }

    // MARK: - Lag

    /// A cursor skipped `missed` messages: `LAGGED` to the session, counters,
    /// a `$SYS.lagged` event, and a log line at most once a second per cursor.
    func reportLag(_ cursor: Cursor, missed: UInt64, session: Session) {
        let topic = cursor.topic.name
        session.output.appendControl { WireEncoder.appendLagged(topic: topic, count: missed, to: &$0) }
        stats.laggedEvents.add(1)
        stats.laggedMessages.add(missed)
        let lag = session.lagFigures(of: cursor)
        lag.sinceLog &+= missed
        lag.missedTotal &+= missed
        if topic.first != Names.reservedPrefix {  // lags on the broker's own topics are not announced (no feedback loop)
            publishSystemEvent(SystemTopics.lagged,
                               "topic=\(String(decoding: topic, as: UTF8.self)) client=\(session.id) addr=\(session.peer) missed=\(missed)")
        }
        let now = monotonicMilliseconds()
        if now - lag.loggedAtMs >= 1000 {
            logger.warn("subscription lagging on \(String(decoding: topic, as: UTF8.self)): \(lag.sinceLog) messages missed",
                        connection: session.id, peer: session.peer)
            lag.sinceLog = 0
            lag.loggedAtMs = now
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
                    _ = try store.publish(to: name, payload: payload, lineSafe: nil, cache: &cache, createsStream: false)
                } catch {}
            }
        }
    }
}

extension TopicStoreError {
    var text: String {
        switch self {
        case let .tooManyTopics(limit): "the broker holds \(limit) topics, its limit"
        case let .engineUnavailable(reason): reason
        }
    }

    /// The `ERR` line this refusal gets.
    var protocolError: ProtocolError {
        switch self {
        case .tooManyTopics: ProtocolError(.tooManyTopics, text)
        case .engineUnavailable: ProtocolError(.engineUnavailable, text)
        }
    }
}
