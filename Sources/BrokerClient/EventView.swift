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
    public let epoch: String?

    public init(topic: String, payload: UnsafeRawBufferPointer, seq: UInt64? = nil, epoch: String? = nil) {
        self.topic = topic
        self.payload = payload
        self.seq = seq
        self.epoch = epoch
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
