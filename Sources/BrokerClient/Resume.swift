// Resuming subscriptions on a new connection: what an old connection had, and where each concrete topic stood.
import Protocol

/// One subscription of a connection, as a later connection makes it again.
///
/// A value type: any thread. It can be kept (or written down) and resumed later,
/// by any connection to a broker that still holds the stream.
public struct SubscriptionRecord: Hashable, Sendable {
    /// The topic or pattern, exactly as subscribed.
    public var pattern: String
    /// The queue group joined, if any.
    public var group: String?
    /// Version 2, a concrete topic outside a queue group: the position after which the
    /// subscription goes on, the last message received (or the stream's head when it was
    /// made, or before the messages `last=` asked for). Nil for patterns (they start at
    /// the live end again), group members (their group reads on), and in version 1.
    public var position: StreamPosition?

    public init(pattern: String, group: String? = nil, position: StreamPosition? = nil) {
        self.pattern = pattern
        self.group = group
        self.position = position
    }
}

/// Everything a new connection needs to go on where an old one stopped: its
/// subscriptions with their positions, and the events it read but did not hand out.
///
/// Made by ``BrokerConnection/resumeState()``, used by ``BrokerConnection/resume(_:)``.
/// A value type: any thread.
public struct ResumeState: Hashable, Sendable {
    /// The subscriptions, in the order they were made.
    public var subscriptions: [SubscriptionRecord]
    /// Events read from the old connection and not yet handed out, in order; the new
    /// connection hands them out first.
    public var undelivered: [BrokerEvent]
    /// The version the old connection spoke; the new one switches to it.
    public var version: ProtocolVersion

    public init(subscriptions: [SubscriptionRecord], undelivered: [BrokerEvent] = [], version: ProtocolVersion = .v2) {
        self.subscriptions = subscriptions
        self.undelivered = undelivered
        self.version = version
    }
}

/// A subscription this connection holds: its record and what the checker calls it.
struct ActiveSubscription {
    /// The checker's id for it.
    let id: Int
    /// The topic or pattern, exactly as subscribed.
    let pattern: String
    /// The queue group name, if any.
    let group: String?
    /// True when `pattern` has a wildcard level.
    let isPattern: Bool
    /// The stream's epoch from the SUB reply (version 2, concrete topic).
    let epoch: String?
    /// The position to resume from before any message arrived: the head, or head less `last=`.
    let startSeq: UInt64?
}

extension BrokerConnection {
    /// Where every subscription stands, and the events read but not handed out:
    /// what ``resume(_:)`` on a new connection needs.
    ///
    /// Frames already read from the socket are checked first (nothing is read or
    /// written). Take it when this connection ended (``nextEvent(beforeBlocking:)``
    /// returned nil or threw); this connection should not be used afterwards.
    public func resumeState() -> ResumeState {
        while inboundHead < inbound.count {
            let item = inbound[inboundHead]
            inboundHead += 1
            if case let .event(event) = item {
                do { try accept(event) } catch { break }
            }
        }
        let records = active.map { subscription -> SubscriptionRecord in
            var position: StreamPosition?
            if let epoch = subscription.epoch, subscription.group == nil, !subscription.isPattern {
                let seq = checker.lastSequence(of: subscription.id, on: subscription.pattern) ?? subscription.startSeq ?? 0
                position = StreamPosition(epoch: epoch, seq: seq)
            }
            return SubscriptionRecord(pattern: subscription.pattern, group: subscription.group, position: position)
        }
        return ResumeState(subscriptions: records, undelivered: Array(events[eventsHead...]), version: version)
    }

    /// Subscribes again to every subscription of `state`, and hands out its undelivered
    /// events before anything this connection reads.
    ///
    /// In version 2 (the connection switches to `state.version` first, with `HELLO`),
    /// every concrete topic with a position resumes with `from=<epoch>:<seq>`: the broker
    /// sends the messages after it that it still holds, preceded by one
    /// ``BrokerEvent/lagged(topic:count:)`` for those it no longer holds, then live ones.
    /// When the stream is another one (a broker restart, a topic freed and made again),
    /// a ``BrokerEvent/positionLost(topic:previous:current:)`` comes instead and the
    /// subscription starts at the stream's head. Patterns and queue group members start
    /// at the live end; what was published to them meanwhile is not counted.
    ///
    /// Throws as ``subscribe(_:options:)`` does; a refused `SUB` stops the resume there.
    public func resume(_ state: ResumeState) throws(BrokerClientError) {
        if state.version != version { try hello(state.version) }
        events.replaceSubrange(0..<eventsHead, with: state.undelivered)
        eventsHead = 0
        for record in state.subscriptions {
            var options = SubscribeOptions(group: record.group.map { Array($0.utf8) })
            if version == .v2 { options.from = record.position }
            try subscribe(record.pattern, options: options)
        }
    }
}
