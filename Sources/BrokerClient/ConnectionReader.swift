// The reading side of a connection: bytes to frames (lines and version 2 payloads), frames to checked events.
import Protocol

/// A frame taken off the wire, owned, in arrival order.
enum Inbound {
    /// `OK`, `ERR` or `PONG`: the reply to the oldest command not yet answered.
    case reply(ServerFrame)
    /// `MSG` (either version, with its payload), `LAGGED` or `BYE`; not yet checked.
    case event(BrokerEvent)
}

extension BrokerConnection {
    // MARK: Unasked frames

    /// The next message, lag report, lost position or `BYE`; nil when the broker closed
    /// the connection.
    ///
    /// `beforeBlocking` runs each time no frame is at hand and the call is about to
    /// wait for the network: the place to flush buffered output.
    public func nextEvent(beforeBlocking: () -> Void = {}) throws(BrokerClientError) -> BrokerEvent? {
        try takeEvent(beforeBlocking: beforeBlocking, deadline: nil)
    }

    /// Like ``nextEvent(beforeBlocking:)``, but waits no later than `deadline`:
    /// throws ``BrokerClientError/timedOut(_:)`` when it passes with no frame at hand.
    public func nextEvent(until deadline: ContinuousClock.Instant, beforeBlocking: () -> Void = {}) throws(BrokerClientError) -> BrokerEvent? {
        try takeEvent(beforeBlocking: beforeBlocking, deadline: deadline)
    }

    /// Hands every event to `handler`, in order, until it returns false or the broker
    /// closes the connection; messages are lent (``MessageView``), not copied.
    ///
    /// The same events as ``nextEvent(beforeBlocking:)``, checked the same way, at a
    /// fraction of the cost per message: for a subscriber that reads at a high rate.
    /// Call it only while no command awaits its reply (a reply here is a protocol
    /// violation); the handler must not use this connection. Returns true when the handler stopped (events read after that are
    /// kept for the next call or ``nextEvent(beforeBlocking:)``), false at end of file.
    /// `beforeBlocking` runs each time the call is about to wait for the network.
    public func receive(beforeBlocking: () -> Void = {}, _ handler: (EventView) -> Bool) throws(BrokerClientError) -> Bool {
        while true {
            // Events kept earlier, then frames read but not taken, then the socket.
            if eventsHead < events.count {
                if !BrokerConnection.lend(popEvent(), to: handler) { return true }
                continue
            }
            if inboundHead < inbound.count {
                let item = inbound[inboundHead]
                inboundHead += 1
                switch item {
                case .reply: throw .protocolViolation("a reply that answers no command")
                case let .event(event): try accept(event)
                }
                continue
            }
            if reachedEnd { return false }
            switch try socket.read(into: readBuffer) {
            case .done(0):
                reachedEnd = true
                return false
            case let .done(count):
                if try !ingest(count, direct: true, handler) { return true }
            case .wouldBlock:
                beforeBlocking()
                _ = try socket.wait(for: .readable, until: nil)
            }
        }
    }

    /// Hands out a kept event, or reads, checks and hands out the next one.
    private func takeEvent(beforeBlocking: () -> Void, deadline: ContinuousClock.Instant?) throws(BrokerClientError) -> BrokerEvent? {
        while true {
            if eventsHead < events.count { return popEvent() }
            guard let item = try nextInbound(beforeBlocking: beforeBlocking, deadline: deadline) else { return nil }
            switch item {
            case .reply: throw .protocolViolation("a reply that answers no command")
            case let .event(event): try accept(event)
            }
        }
    }

    /// The next kept event (there is one).
    private func popEvent() -> BrokerEvent {
        let event = events[eventsHead]
        eventsHead += 1
        if eventsHead == events.count {
            events.removeAll(keepingCapacity: true)
            eventsHead = 0
        }
        return event
    }

    /// Gives an owned event to a ``receive(beforeBlocking:_:)`` handler.
    private static func lend(_ event: BrokerEvent, to handler: (EventView) -> Bool) -> Bool {
        guard case let .message(message) = event else { return handler(.event(event)) }
        return message.payload.withUnsafeBytes { payload in
            handler(.message(MessageView(topic: message.topic, payload: payload, seq: message.seq, epoch: message.epoch)))
        }
    }

    /// Checks an unasked frame taken from `inbound` (version 2: against the sequence
    /// rule) and keeps the events it gives: an unreported gap becomes a `lagged` event
    /// before the message.
    func accept(_ event: BrokerEvent) throws(BrokerClientError) {
        switch event {
        case var .message(message):
            // A version 2 message has a sequence; a version 1 message has nothing to check.
            if let seq = message.seq {
                let (missing, track) = try check(topic: message.topic, seq: seq)
                let epoch = SequenceChecker.epoch(of: track)
                if missing > 0 { events.append(.lagged(topic: message.topic, count: missing)) }
                message.epoch = epoch
            }
            events.append(.message(message))
        case let .lagged(topic, count):
            try checkLag(topic: topic, count: count)
            events.append(event)
        case .bye, .positionLost:
            events.append(event)
        }
    }

    /// The sequence rule for one `MSG`: the messages missing without a `LAGGED`, and the stream's epoch.
    @inline(__always)
    private func check(topic: String, seq: UInt64) throws(BrokerClientError) -> (missing: UInt64, track: SequenceChecker.Track) {
        do {
            let (verdict, track) = try checker.check(topic: topic, seq: seq)
            if case let .unreported(missing) = verdict { return (missing, track) }
            return (0, track)
        } catch {
            throw .protocolViolation(error.description)
        }
    }

    /// The sequence rule for one `LAGGED` (version 2 only: in version 1 nothing is checked).
    private func checkLag(topic: String, count: UInt64) throws(BrokerClientError) {
        guard version == .v2 else { return }
        do {
            try checker.lagged(topic: topic, count: count)
        } catch {
            throw .protocolViolation(error.description)
        }
    }

    // MARK: Reading

    /// The next frame in arrival order, reading as needed; nil at the broker's end of file.
    /// Throws ``BrokerClientError/timedOut(_:)`` when `deadline` passes first.
    func nextInbound(beforeBlocking: () -> Void, deadline: ContinuousClock.Instant?) throws(BrokerClientError) -> Inbound? {
        while inboundHead == inbound.count {
            inbound.removeAll(keepingCapacity: true)
            inboundHead = 0
            if reachedEnd { return nil }
            switch try socket.read(into: readBuffer) {
            case .done(0):
                reachedEnd = true
            case let .done(count):
                try ingest(count, direct: false) { _ in true }
            case .wouldBlock:
                beforeBlocking()
                if try socket.wait(for: .readable, until: deadline).isEmpty {
                    throw .timedOut("waiting for the broker's reply")
                }
            }
        }
        let item = inbound[inboundHead]
        inboundHead += 1
        return item
    }

    /// Frames the first `count` bytes of the read buffer.
    ///
    /// Not `direct`: every frame goes onto `inbound`, owned and unchecked (a command's
    /// reply may be among them, and checking waits until it was seen). `direct` (no
    /// command awaits a reply): events are checked at once and lent to `handler` until
    /// it returns false, then kept in `events`. Returns false once the handler stopped.
    @discardableResult
    func ingest(_ count: Int, direct: Bool, _ handler: (EventView) -> Bool) throws(BrokerClientError) -> Bool {
        var failure: BrokerClientError?
        var accepting = true

        /// A message's way out: queued, lent, or kept.
        func emit(topic: String, payload: UnsafeRawBufferPointer, seq: UInt64?) throws(BrokerClientError) {
            guard direct else {
                inbound.append(.event(.message(Message(topic: topic, payload: Array(payload), seq: seq))))
                return
            }
            guard let seq else {
                if accepting {
                    accepting = handler(.message(MessageView(topic: topic, payload: payload)))
                } else {
                    events.append(.message(Message(topic: topic, payload: Array(payload))))
                }
                return
            }
            let (missing, track) = try check(topic: topic, seq: seq)
            if missing > 0 { try emit(.lagged(topic: topic, count: missing)) }
            if accepting {
                accepting = handler(.message(MessageView(topic: topic, payload: payload, seq: seq, track: track)))
            } else {
                events.append(.message(Message(topic: topic, payload: Array(payload), seq: seq, epoch: SequenceChecker.epoch(of: track))))
            }
        }

        /// Any other event's way out.
        func emit(_ event: BrokerEvent) throws(BrokerClientError) {
            guard direct else {
                inbound.append(.event(event))
                return
            }
            if case let .lagged(topic, count) = event { try checkLag(topic: topic, count: count) }
            if accepting { accepting = handler(.event(event)) } else { events.append(event) }
        }

        framer.feed(UnsafeRawBufferPointer(rebasing: readBuffer[0..<count])) { event in
            do throws(BrokerClientError) {
                switch event {
                case let .line(line):
                    if parseVersion == .v2, let header = ServerFrameParser.versionTwoMessageHeader(line) {
                        // The usual frame, read without the general parser's dispatch.
                        guard header.size <= UInt64(BrokerConnection.maxPayloadBytes) else {
                            throw .protocolViolation("a MSG payload of \(header.size) bytes (at most \(BrokerConnection.maxPayloadBytes))")
                        }
                        pendingSeq = header.seq
                        _ = topicText(header.topic)  // the payload's topic: recentTopic until it comes
                        return .readPayload(Int(header.size))
                    }
                    let view: ServerFrameView
                    do throws(FrameError) {
                        view = try ServerFrameParser.parse(line, version: parseVersion.rawValue)
                    } catch {
                        throw .protocolViolation(error.description)
                    }
                    switch view {
                    case let .msgHeader(topic, seq, size):
                        guard size <= UInt64(BrokerConnection.maxPayloadBytes) else {
                            throw .protocolViolation("a MSG payload of \(size) bytes (at most \(BrokerConnection.maxPayloadBytes))")
                        }
                        pendingSeq = seq
                        _ = topicText(topic)  // the payload's topic: recentTopic until it comes
                        return .readPayload(Int(size))
                    case let .msg(topic, payload):
                        try emit(topic: topicText(topic), payload: payload, seq: nil)
                    case let .lagged(topic, count):
                        try emit(.lagged(topic: topicText(topic), count: count))
                    case let .bye(code, text):
                        try emit(.bye(code: ErrorCode(rawValue: String(decoding: code, as: UTF8.self)),
                                      text: String(decoding: text, as: UTF8.self)))
                    case .ok, .err, .pong:
                        if direct { throw .protocolViolation("a reply that answers no command") }
                        takeReply(view)
                    }
                case let .payload(payload):
                    guard let seq = pendingSeq else { throw .protocolViolation("a payload without a MSG line") }
                    pendingSeq = nil
                    // No other line comes between a MSG header and its payload: recentTopic is its topic.
                    try emit(topic: recentTopic.text, payload: payload, seq: seq)
                case .lineTooLong:
                    throw .protocolViolation("a line longer than \(BrokerConnection.maxFrameBytes) bytes")
                case .payloadSkipped:
                    throw .protocolViolation("a skipped payload")  // never asked for
                case .badFraming:
                    throw .protocolViolation("a MSG payload not followed by LF")
                }
                return .proceed
            } catch {
                failure = error
                return .pause
            }
        }
        if let failure {
            framer.reset()
            throw failure
        }
        return accepting
    }

    /// Queues a reply; the `OK` of a `HELLO` switches the version of the lines after it.
    private func takeReply(_ view: ServerFrameView) {
        if let asked = pendingHello {
            // The frames after `OK <version>` are in that version, from the next line on.
            if case let .ok(rest?) = view, rest.elementsEqual(asked.description.utf8) { parseVersion = asked }
            pendingHello = nil
        }
        inbound.append(.reply(ServerFrame(view)))
    }

    /// The topic as a `String`, reusing the last one when the bytes are the same.
    private func topicText(_ bytes: UnsafeRawBufferPointer) -> String {
        if bytes.elementsEqual(recentTopic.bytes) { return recentTopic.text }
        let text = String(decoding: bytes, as: UTF8.self)
        recentTopic = (Array(bytes), text)
        return text
    }

    /// Reads a `PUB`/`BPUB` reply's rest: `<n>` in version 1, `<n> <epoch>:<seq>` in version 2.
    func publishReceipt(for rest: [UInt8]?, command: String) throws(BrokerClientError) -> PublishReceipt {
        guard let rest else { return PublishReceipt(subscribers: 0, position: nil) }
        if parseVersion == .v2, let (count, position) = ServerFrameParser.publishReply(rest) {
            return PublishReceipt(subscribers: Int(clamping: count), position: position)
        }
        if let count = rest.withUnsafeBytes({ ServerFrameParser.parseDecimal($0) }) {
            return PublishReceipt(subscribers: Int(clamping: count), position: nil)
        }
        throw .protocolViolation("\(command) reply 'OK \(String(decoding: rest, as: UTF8.self))'")
    }
}
