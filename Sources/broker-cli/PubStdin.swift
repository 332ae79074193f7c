// `broker-cli pub <topic> [-]`: every stdin line one message, pipelined, stdin read in big chunks.
import BrokerClient
import Protocol
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Streams stdin through one pipelined connection and waits for every reply.
func runPubStdin(_ invocation: Invocation, topic: String) -> Int32 {
    let connection: BrokerConnection
    do {
        connection = try connect(invocation)
    } catch {
        diagnose(describe(error))
        return 1
    }
    let reader = StdinLines()
    var accepted: UInt64 = 0
    var refused: UInt64 = 0
    var deliveries: UInt64 = 0
    let reportLimit = 20
    do {
        try connection.publishPipelined(topic: Array(topic.utf8), produce: { (batch) throws(BrokerClientError) -> Bool in
            try reader.fill(&batch)
        }, onReply: { index, reply in
            switch reply {
            case let .delivered(subscribers):
                accepted += 1
                deliveries += UInt64(subscribers)
            case let .refused(error):
                refused += 1
                if refused <= reportLimit { diagnose("message \(index + 1): \(error.code) \(error.text)") }
            }
        })
    } catch {
        diagnose(describe(error))
        return 1
    }
    if refused > reportLimit { diagnose("\(refused - UInt64(reportLimit)) more messages refused") }
    if reader.tooLong > 0 { diagnose("\(reader.tooLong) lines longer than \(StdinLines.maxLineBytes) bytes not sent") }
    if invocation.verbose {
        diagnose("published \(accepted + refused) messages: \(accepted) accepted, \(refused) refused, \(deliveries) deliveries")
    }
    return refused == 0 && reader.tooLong == 0 ? 0 : 1
}

/// Reads stdin in large chunks and turns each non-empty line into one message.
final class StdinLines {
    /// The longest line sent; a longer one is skipped and counted.
    static let maxLineBytes = 16 << 20
    /// Bytes read per `read` call.
    static let chunkBytes = 1 << 20
    /// Splits stdin into lines (CR before LF dropped, empty lines skipped).
    var framer = LineFramer(maxLineBytes: StdinLines.maxLineBytes)
    /// The read buffer.
    var chunk = [UInt8](repeating: 0, count: StdinLines.chunkBytes)
    /// Lines skipped for being too long.
    var tooLong = 0

    /// Appends the lines of one chunk of stdin; false at end of input (after the final partial line).
    func fill(_ batch: inout PublishBatch) throws(BrokerClientError) -> Bool {
        let count = chunk.withUnsafeMutableBytes { readStdin(into: $0) }
        if count < 0 {
            let code = errno
            throw .system(call: "read stdin", errno: code, reason: errorTextOf(code))
        }
        if count == 0 {
            // A last line without LF is still a message.
            let newline: [UInt8] = [0x0A]
            newline.withUnsafeBytes { take($0, &batch) }
            return false
        }
        chunk.withUnsafeBytes { take(UnsafeRawBufferPointer(rebasing: $0[0..<count]), &batch) }
        return true
    }

    /// Frames bytes into messages.
    private func take(_ bytes: UnsafeRawBufferPointer, _ batch: inout PublishBatch) {
        framer.feed(bytes) { event in
            switch event {
            case let .line(line): batch.append(payload: line)
            case .lineTooLong: tooLong += 1
            case .payload, .payloadSkipped, .badFraming: break  // never asked for: stdin is lines
            }
            return .proceed
        }
    }
}

/// `read(0, ...)`, retrying EINTR. Returns the count, 0 at end of file, -1 on error.
private func readStdin(into buffer: UnsafeMutableRawBufferPointer) -> Int {
    while true {
        let count = read(STDIN_FILENO, buffer.baseAddress, buffer.count)
        if count >= 0 { return count }
        if errno == EINTR { continue }
        if errno == EAGAIN || errno == EWOULDBLOCK {
            var entry = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
            _ = poll(&entry, 1, -1)
            continue
        }
        return -1
    }
}
