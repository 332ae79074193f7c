// Events lent to a handler without copying: the fast way to read many messages.
import Protocol

/// A message lent to a ``BrokerConnection/receive(beforeBlocking:_:)`` handler.
///
/// Guarantees: the same fields as ``Message``; `payload` points into the connection's
/// read buffer (or a kept event) and is valid only during the handler's call: copy it
/// (``message``) to keep it. Not `Sendable`; do not let it escape the call.
public struct MessageView {
    /// The concrete topic it was published to.
    public let topic: String
    /// The payload bytes, valid during the call only.
    public let payload: UnsafeRawBufferPointer
    /// Its sequence in the topic's stream (version 2); nil in version 1.
    public let seq: UInt64?
    /// The stream's epoch when the connection knows it (see ``Message/epoch``).
    public var epoch: String? {
        if let track { return SequenceChecker.epoch(of: track) }
        return givenEpoch
    }

    /// The epoch given to ``init(topic:payload:seq:epoch:)``.
    private let givenEpoch: String?
    /// Where the connection keeps the topic's epoch: read only when asked for (no copy
    /// per frame). `unowned(unsafe)`: the view lives only during the handler's call, and
    /// the track outlives it (the handler must not use the connection).
    private unowned(unsafe) let track: SequenceChecker.Track?

    public init(topic: String, payload: UnsafeRawBufferPointer, seq: UInt64? = nil, epoch: String? = nil) {
        self.topic = topic
        self.payload = payload
        self.seq = seq
        self.givenEpoch = epoch
        self.track = nil
    }

    /// A view whose epoch is read from `track` when asked for.
    init(topic: String, payload: UnsafeRawBufferPointer, seq: UInt64, track: SequenceChecker.Track) {
        self.topic = topic
        self.payload = payload
        self.seq = seq
        self.givenEpoch = nil
        self.track = track
    }

    /// An owned copy.
    public var message: Message {
        Message(topic: topic, payload: Array(payload), seq: seq, epoch: epoch)
    }
}

/// One event handed to a ``BrokerConnection/receive(beforeBlocking:_:)`` handler, in
/// the order ``BrokerConnection/nextEvent(beforeBlocking:)`` would give them.
public enum EventView {
    /// A message, lent.
    case message(MessageView)
    /// Any other event: lag, a lost position, `BYE` (never ``BrokerEvent/message(_:)``).
    case event(BrokerEvent)
}
