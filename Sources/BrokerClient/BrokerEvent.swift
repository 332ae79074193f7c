// What a subscriber receives unasked: messages, lag reports, and the broker's goodbye.
import Protocol

/// A message delivered by the broker (`MSG <topic> <payload>`).
public struct Message: Hashable, Sendable {
    /// The concrete topic it was published to (also for a pattern subscription).
    public var topic: String
    /// The payload bytes, exactly as published (any byte but LF).
    public var payload: [UInt8]

    public init(topic: String, payload: [UInt8]) {
        self.topic = topic
        self.payload = payload
    }

    /// The payload as text; invalid UTF-8 becomes U+FFFD.
    public var text: String { String(decoding: payload, as: UTF8.self) }
}

/// A frame the broker sends without being asked.
public enum BrokerEvent: Hashable, Sendable {
    /// A message on a subscribed topic.
    case message(Message)
    /// The subscription fell behind on `topic` and `count` messages were dropped for it;
    /// delivery goes on with the oldest message still held.
    case lagged(topic: String, count: UInt64)
    /// The broker's last frame before it closes the connection (`shutting-down`, ...).
    case bye(code: ErrorCode, text: String)
}
