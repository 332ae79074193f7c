// How `sub` prints a message: payload, `topic payload`, or a JSON line (with `--seq`, the sequence too), into the buffered stdout.
import BrokerClient
import Protocol

/// Formats received messages into buffered stdout and counts them. Main thread only.
final class MessagePrinter {
    enum Format { case payload, topicAndPayload, json }

    /// The chosen format.
    let format: Format
    /// True with `--seq`: the sequence goes before the payload (`-` when the message has none).
    let showSeq: Bool
    /// Buffered stdout; flushed when full and before every blocking read.
    let out = OutputBuffer(fd: 1, limit: 256 * 1024)
    /// Formats the `time` of JSON lines.
    private var times = TimeFormatter()
    /// Messages printed so far.
    private(set) var count = 0

    init(format: Format, showSeq: Bool = false) {
        self.format = format
        self.showSeq = showSeq
    }

    /// Prints one message on its own line (a payload holding LF spans lines, except in JSON).
    func print(_ message: MessageView) {
        switch format {
        case .payload:
            appendSeq(message)
            out.bytes.append(contentsOf: message.payload)
            out.bytes.append(0x0A)
        case .topicAndPayload:
            out.bytes.append(contentsOf: message.topic.utf8)
            out.bytes.append(0x20)
            appendSeq(message)
            out.bytes.append(contentsOf: message.payload)
            out.bytes.append(0x0A)
        case .json:
            JSONFormat.appendMessage(message, formattedTime: times.format(.now()), to: &out.bytes)
        }
        count += 1
        out.flushIfFull()
    }

    /// `<seq> ` with `--seq`.
    private func appendSeq(_ message: MessageView) {
        guard showSeq else { return }
        if let seq = message.seq {
            WireEncoder.appendDecimal(seq, to: &out.bytes)
        } else {
            out.bytes.append(UInt8(ascii: "-"))
        }
        out.bytes.append(0x20)
    }
}
