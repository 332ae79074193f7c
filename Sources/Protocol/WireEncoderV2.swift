// Encoding the frames version 2 adds or changes, in both directions, into a buffer the caller owns.

/// Version 2 frames (PROTOCOL.md, "Version 2"), like the rest of ``WireEncoder``: byte-exact,
/// each ending with one LF, written as given (nothing is validated), allocation-free except
/// when the buffer grows.
extension WireEncoder {
    // MARK: Client to broker

    /// `HELLO <version>\n`
    @inlinable
    public static func appendHello(version: Int, to buffer: inout [UInt8]) {
        appendVerb("HELLO ", to: &buffer)
        appendDecimal(UInt64(max(0, version)), to: &buffer)
        buffer.append(ASCII.lf)
    }

    /// `BPUB <topic> <size>\n`: the line alone; the payload and its LF follow it.
    @inlinable
    public static func appendBpubHeader(topic: some Collection<UInt8>, size: UInt64, to buffer: inout [UInt8]) {
        appendVerb("BPUB ", to: &buffer)
        buffer.append(contentsOf: topic)
        buffer.append(ASCII.space)
        appendDecimal(size, to: &buffer)
        buffer.append(ASCII.lf)
    }

    /// `BPUB <topic> <size>\n<payload>\n`: the whole frame; the payload may hold any bytes.
    @inlinable
    public static func appendBpub(topic: some Collection<UInt8>, payload: some Collection<UInt8>, to buffer: inout [UInt8]) {
        appendBpubHeader(topic: topic, size: UInt64(payload.count), to: &buffer)
        buffer.append(contentsOf: payload)
        buffer.append(ASCII.lf)
    }

    /// `SUB <pattern>[ from=<epoch>:<seq>][ last=<n>][ group=<name>]\n`, the options in
    /// that order; with no option, the version 1 line `SUB <pattern>\n`.
    @inlinable
    public static func appendSub(_ pattern: some Collection<UInt8>, options: SubscribeOptions, to buffer: inout [UInt8]) {
        appendVerb("SUB ", to: &buffer)
        buffer.append(contentsOf: pattern)
        if let from = options.from {
            appendVerb(" from=", to: &buffer)
            appendPosition(epoch: from.epoch, seq: from.seq, to: &buffer)
        }
        if let last = options.last {
            appendVerb(" last=", to: &buffer)
            appendDecimal(last, to: &buffer)
        }
        if let group = options.group {
            appendVerb(" group=", to: &buffer)
            buffer.append(contentsOf: group)
        }
        buffer.append(ASCII.lf)
    }

    /// `UNSUB <pattern>\n`, or `UNSUB <pattern> group=<name>\n`.
    @inlinable
    public static func appendUnsub(_ pattern: some Collection<UInt8>, group: [UInt8]?, to buffer: inout [UInt8]) {
        appendVerb("UNSUB ", to: &buffer)
        buffer.append(contentsOf: pattern)
        if let group {
            appendVerb(" group=", to: &buffer)
            buffer.append(contentsOf: group)
        }
        buffer.append(ASCII.lf)
    }

    // MARK: Broker to client

    /// `MSG <topic> <seq> <size>\n`: the header of a version 2 message; the caller then
    /// writes the `size` payload bytes and one LF.
    @inlinable
    public static func appendMsgV2Header(topic: some Collection<UInt8>, seq: UInt64, size: UInt64, to buffer: inout [UInt8]) {
        appendVerb("MSG ", to: &buffer)
        buffer.append(contentsOf: topic)
        buffer.append(ASCII.space)
        appendDecimal(seq, to: &buffer)
        buffer.append(ASCII.space)
        appendDecimal(size, to: &buffer)
        buffer.append(ASCII.lf)
    }

    /// The length of `MSG <topic> <seq> <size>\n` for a topic of `topicCount` bytes.
    @inlinable
    public static func msgV2HeaderCount(topicCount: Int, seq: UInt64, size: UInt64) -> Int {
        4 + topicCount + 1 + Decimal.width(seq) + 1 + Decimal.width(size) + 1
    }

    /// Writes `MSG <topic> <seq> <size>\n` into `out`, which has exactly
    /// ``msgV2HeaderCount(topicCount:seq:size:)`` bytes (for memory the caller manages
    /// itself, as the broker's messages do).
    @inlinable
    public static func writeMsgV2Header(topic: UnsafeRawBufferPointer, seq: UInt64, size: UInt64,
                                        into out: UnsafeMutableRawBufferPointer) {
        out[0] = 0x4D  // M
        out[1] = 0x53  // S
        out[2] = 0x47  // G
        out[3] = ASCII.space
        UnsafeMutableRawBufferPointer(rebasing: out[4..<(4 + topic.count)]).copyMemory(from: topic)
        let seqStart = writeMsgV2Suffix(seq: seq, size: size, endingAt: out.count, in: out)
        out[seqStart - 1] = ASCII.space
    }

    /// The most bytes ``writeMsgV2Suffix(seq:size:endingAt:in:)`` writes: two numbers of
    /// at most 20 digits, a space and an LF.
    public static let msgV2SuffixMaxCount = 42

    /// Writes `<seq> <size>\n`, the end of a version 2 message header (what follows the
    /// version 1 frame's `MSG <topic> `), so that its LF is just before `end`; returns
    /// where it starts. `out` must have ``msgV2SuffixMaxCount`` bytes before `end`.
    @inlinable
    public static func writeMsgV2Suffix(seq: UInt64, size: UInt64, endingAt end: Int,
                                        in out: UnsafeMutableRawBufferPointer) -> Int {
        out[end - 1] = ASCII.lf
        let sizeStart = Decimal.write(size, endingAt: end - 1, in: out)
        out[sizeStart - 1] = ASCII.space
        return Decimal.write(seq, endingAt: sizeStart - 1, in: out)
    }

    /// `MSG <topic> <seq> <size>\n<payload>\n`: a whole version 2 message.
    @inlinable
    public static func appendMsgV2(topic: some Collection<UInt8>, seq: UInt64, payload: some Collection<UInt8>, to buffer: inout [UInt8]) {
        appendMsgV2Header(topic: topic, seq: seq, size: UInt64(payload.count), to: &buffer)
        buffer.append(contentsOf: payload)
        buffer.append(ASCII.lf)
    }

    /// `OK <n> <epoch>:<seq>\n`, the version 2 reply to `PUB` and `BPUB`.
    @inlinable
    public static func appendOK(count: Int, epoch: some Collection<UInt8>, seq: UInt64, to buffer: inout [UInt8]) {
        appendVerb("OK ", to: &buffer)
        appendDecimal(UInt64(max(0, count)), to: &buffer)
        buffer.append(ASCII.space)
        appendPosition(epoch: epoch, seq: seq, to: &buffer)
        buffer.append(ASCII.lf)
    }

    /// `OK <n> <epoch>:<seq>\n` from a position.
    @inlinable
    public static func appendOK(count: Int, position: StreamPosition, to buffer: inout [UInt8]) {
        appendOK(count: count, epoch: position.epoch, seq: position.seq, to: &buffer)
    }

    /// `OK <epoch> <head>\n`, the version 2 reply to a `SUB` of a concrete topic.
    @inlinable
    public static func appendOK(epoch: some Collection<UInt8>, head: UInt64, to buffer: inout [UInt8]) {
        appendVerb("OK ", to: &buffer)
        buffer.append(contentsOf: epoch)
        buffer.append(ASCII.space)
        appendDecimal(head, to: &buffer)
        buffer.append(ASCII.lf)
    }

    /// `OK <version>\n`, the reply to `HELLO`.
    @inlinable
    public static func appendOK(version: Int, to buffer: inout [UInt8]) {
        appendVerb("OK ", to: &buffer)
        appendDecimal(UInt64(max(0, version)), to: &buffer)
        buffer.append(ASCII.lf)
    }

    // MARK: Pieces

    /// `<epoch>:<seq>`, with nothing around it.
    @inlinable
    public static func appendPosition(epoch: some Collection<UInt8>, seq: UInt64, to buffer: inout [UInt8]) {
        buffer.append(contentsOf: epoch)
        buffer.append(StreamPosition.separator)
        appendDecimal(seq, to: &buffer)
    }
}
