// What a subscriber receives unasked: messages, lag reports, lost positions, and the broker's goodbye.
import Protocol

/// A message delivered by the broker (`MSG <topic> <payload>`, or in version 2
/// `MSG <topic> <seq> <size>` and its payload).
public struct Message: Hashable, Sendable {
    /// The concrete topic it was published to (also for a pattern subscription).
    public var topic: String
    /// The payload bytes, exactly as published (in version 1 any byte but LF; in version 2 any byte).
    public var payload: [UInt8]
    /// Its sequence in the topic's stream (version 2); nil in version 1.
    public var seq: UInt64?
    /// The epoch of that stream when the connection knows it (version 2, from the SUB
    /// reply of a subscription to the concrete topic); nil otherwise, e.g. for a topic
    /// only a pattern subscription matches.
    public var epoch: String?

    public init(topic: String, payload: [UInt8], seq: UInt64? = nil, epoch: String? = nil) {
        self.topic = topic
        self.payload = payload
        self.seq = seq
        self.epoch = epoch
    }

    /// The payload as text; invalid UTF-8 becomes U+FFFD.
    public var text: String { String(decoding: payload, as: UTF8.self) }

    /// `<epoch>:<seq>` when both are known: the `from=` that resumes right after this message.
    public var position: StreamPosition? {
        guard let seq, let epoch else { return nil }
        return StreamPosition(epoch: epoch, seq: seq)
    }
}

/// A frame the broker sends without being asked, or what the connection concluded from the frames.
public enum BrokerEvent: Hashable, Sendable {
    /// A message on a subscribed topic.
    case message(Message)
    /// `count` messages on `topic` were dropped for a subscription and will not come:
    /// the broker's `LAGGED` frame, or (version 2) a gap in the sequences that no
    /// `LAGGED` frame reported. Delivery goes on with the oldest message still held.
    case lagged(topic: String, count: UInt64)
    /// Version 2: a subscription asked to start after `previous` (a resume, or
    /// `from=`), but the broker's stream of `topic` is not the one that position
    /// belongs to (it was freed, or the broker restarted), or it never reached it.
    /// The subscription starts at `current` (the stream's epoch and head); how many
    /// messages were published in between cannot be known.
    case positionLost(topic: String, previous: StreamPosition, current: StreamPosition)
    /// The broker's last frame before it closes the connection (`shutting-down`, ...).
    case bye(code: ErrorCode, text: String)
}
