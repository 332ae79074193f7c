// How `sub` prints a message: payload, `topic payload`, or a JSON line, into the buffered stdout.
import BrokerClient

/// Formats received messages into buffered stdout and counts them.
final class MessagePrinter {
    enum Format { case payload, topicAndPayload, json }

    /// The chosen format.
    let format: Format
    /// Buffered stdout; flushed when full and before every blocking read.
    let out = OutputBuffer(fd: 1)
    /// Formats the `time` of JSON lines.
    private var times = TimeFormatter()
    /// Messages printed so far.
    private(set) var count = 0

    init(format: Format) { self.format = format }

    /// Prints one message on its own line.
    func print(_ message: Message) {
        switch format {
        case .payload:
            out.bytes.append(contentsOf: message.payload)
            out.bytes.append(0x0A)
        case .topicAndPayload:
            out.bytes.append(contentsOf: message.topic.utf8)
            out.bytes.append(0x20)
            out.bytes.append(contentsOf: message.payload)
            out.bytes.append(0x0A)
        case .json:
            JSONFormat.appendMessage(topic: message.topic.utf8, payload: message.payload, formattedTime: times.format(.now()), to: &out.bytes)
        }
        count += 1
        out.flushIfFull()
    }
}
