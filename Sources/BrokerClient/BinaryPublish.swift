// BPUB: publishing a payload of any bytes, and what the broker's reply says about it.
import Protocol

/// The broker's answer to one publish: how many subscriptions the message was queued
/// for and, in version 2, the position it got in its topic's stream. A value type: any thread.
public struct PublishReceipt: Hashable, Sendable {
    /// The subscriptions the message was queued for (a queue group counts as one).
    public var subscribers: Int
    /// `<epoch>:<seq>` of the message (version 2); nil in version 1.
    public var position: StreamPosition?

    public init(subscribers: Int, position: StreamPosition?) {
        self.subscribers = subscribers
        self.position = position
    }
}

extension BrokerConnection {
    /// Publishes a payload of any bytes (LF, CR and NUL included) with `BPUB <topic> <size>`
    /// and waits for its reply. Allowed in both versions; in version 2 the receipt has the
    /// message's position.
    ///
    /// Throws ``BrokerClientError/refused(_:)`` for `ERR` (`payload-too-large` over the
    /// broker's `max_payload_bytes`, `bad-topic`, ...). A version 1 subscriber cannot
    /// receive a payload with LF or a final CR; the broker counts it in a `LAGGED` for it.
    @discardableResult
    public func publishBinary(topic: some Collection<UInt8>, payload: some Collection<UInt8>) throws(BrokerClientError) -> PublishReceipt {
        var frame: [UInt8] = []
        frame.reserveCapacity(payload.count + topic.count + 32)
        WireEncoder.appendBpub(topic: topic, payload: payload, to: &frame)
        return try publishReceipt(for: request(frame), command: "BPUB")
    }

    /// Publishes `payload` to a topic given as text; see ``publishBinary(topic:payload:)``.
    @discardableResult
    public func publishBinary(topic: String, payload: some Collection<UInt8>) throws(BrokerClientError) -> PublishReceipt {
        try publishBinary(topic: Array(topic.utf8), payload: payload)
    }
}
