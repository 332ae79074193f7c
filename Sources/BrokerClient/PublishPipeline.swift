// Pipelined publishing: thousands of PUBs in flight on one connection, replies matched in order.
import Posix
import Protocol

/// PUB lines being prepared for one topic, handed to the producer of
/// ``BrokerConnection/publishPipelined(topic:maxInFlight:produce:onReply:)``.
public struct PublishBatch {
    /// The topic every message of the pipeline goes to.
    public let topic: [UInt8]
    /// Encoded `PUB` lines waiting to be written.
    var bytes: [UInt8]
    /// Messages appended in this batch.
    public private(set) var count = 0
    /// How many more messages the pipeline wants now (a hint; appending more is allowed).
    public let room: Int

    init(topic: [UInt8], bytes: [UInt8], room: Int) {
        self.topic = topic
        self.bytes = bytes
        self.room = room
    }

    /// Appends one message. The payload is sent as it is (the broker refuses a payload with LF or a final CR).
    public mutating func append(payload: some Collection<UInt8>) {
        WireEncoder.appendPub(topic: topic, payload: payload, to: &bytes)
        count += 1
    }

    /// Appends one message of any bytes as `BPUB` (LF and CR included; see
    /// ``BrokerConnection/publishBinary(topic:payload:)``).
    public mutating func appendBinary(payload: some Collection<UInt8>) {
        WireEncoder.appendBpub(topic: topic, payload: payload, to: &bytes)
        count += 1
    }

    /// True once the batch holds enough to be worth writing (`room` messages or 1 MiB).
    public var isFull: Bool { count >= room || bytes.count >= 1 << 20 }
}

/// The broker's answer to one pipelined message.
public enum PublishReply: Hashable, Sendable {
    /// `OK <n>`: queued for `subscribers` subscriptions.
    case delivered(subscribers: Int)
    /// `ERR <code> <text>`: the broker refused the message.
    case refused(ProtocolError)
}

extension BrokerConnection {
    /// Publishes every message the producer appends, with up to about `maxInFlight`
    /// messages unanswered at once, and reports each reply in order.
    ///
    /// - `produce` is called whenever the pipeline has room; it appends messages to the
    ///   batch and returns false when there are no more (it may block, e.g. on stdin).
    /// - `onReply(index, reply)` is called once per message, in the order they were
    ///   appended; `index` counts from 0.
    ///
    /// Returns when every message has been answered. Writing and reading are interleaved
    /// with `poll`, so a broker that stops reading while replies are unread never deadlocks.
    /// Unasked frames that arrive meanwhile are kept for ``nextEvent(beforeBlocking:)``;
    /// a `BYE` ends the pipeline with ``BrokerClientError/bye(code:text:)``.
    public func publishPipelined(
        topic: some Collection<UInt8>,
        maxInFlight: Int = 32_768,
        produce: (inout PublishBatch) throws(BrokerClientError) -> Bool,
        onReply: (UInt64, PublishReply) -> Void
    ) throws(BrokerClientError) {
        let topic = Array(topic)
        var outbound: [UInt8] = []          // encoded lines; outbound[written...] still to write
        var written = 0
        var sent: UInt64 = 0                // messages appended so far
        var answered: UInt64 = 0            // replies received so far
        var moreToCome = true               // the producer has not said it is done
        let lowWater = 256 * 1024
        while true {
            let inFlight = Int(sent - answered)
            if moreToCome && outbound.count - written < lowWater && inFlight < maxInFlight {
                if written == outbound.count { outbound.removeAll(keepingCapacity: true); written = 0 }
                var batch = PublishBatch(topic: topic, bytes: outbound, room: maxInFlight - inFlight)
                outbound = []
                moreToCome = try produce(&batch)
                outbound = batch.bytes
                sent += UInt64(batch.count)
            }
            let pending = outbound.count - written
            if !moreToCome && pending == 0 && sent == answered { return }
            let canProduce = moreToCome && pending < lowWater && Int(sent - answered) < maxInFlight
            // With room to produce, only look (a deadline of now); otherwise wait for the socket.
            let ready = try socket.wait(for: pending > 0 ? [.readable, .writable] : .readable,
                                        until: canProduce ? .now : nil)
            if ready.isEmpty { continue }
            if pending > 0 && !ready.isDisjoint(with: [.writable, .error, .hangup]) {
                let start = written
                let result = outbound.withUnsafeBytes { raw in
                    Result { () throws(BrokerClientError) in try socket.write(UnsafeRawBufferPointer(rebasing: raw[start...])) }
                }
                if case let .done(count) = try result.get() { written += count }
            }
            if !ready.isDisjoint(with: [.readable, .error, .hangup]) {
                try readReplies(answered: &answered, onReply: onReply)
            }
        }
    }

    /// Reads what is there and matches replies to messages in order.
    private func readReplies(answered: inout UInt64, onReply: (UInt64, PublishReply) -> Void) throws(BrokerClientError) {
        switch try socket.read(into: readBuffer) {
        case .wouldBlock: return
        case .done(0):
            reachedEnd = true
            throw .closed
        case let .done(count):
            var failure: BrokerClientError?
            do {
                try ingest(count, direct: false) { _ in true }
            } catch {
                failure = error
            }
            var number = answered
            defer { answered = number }
            while inboundHead < inbound.count {
                let item = inbound[inboundHead]
                inboundHead += 1
                switch item {
                case let .reply(.ok(rest)):
                    let subscribers = (try? publishReceipt(for: rest, command: "PUB").subscribers) ?? 0
                    onReply(number, .delivered(subscribers: subscribers))
                    number += 1
                case let .reply(.err(code, text)):
                    onReply(number, .refused(ProtocolError(code, text)))
                    number += 1
                case .reply:
                    throw .protocolViolation("PONG in answer to PUB")
                case let .event(.bye(code, text)):
                    throw .bye(code: code, text: text)
                case let .event(event):
                    try accept(event)
                }
            }
            if let failure { throw failure }
        }
    }
}
