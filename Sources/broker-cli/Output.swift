// Buffered stdout (flushed in big writes and before every blocking read) and one-line stderr messages.
import BrokerClient
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Output to a file descriptor, gathered in a buffer and written in large pieces.
///
/// Owned by one thread. `write` failures other than EINTR/EAGAIN end the process:
/// a closed pipe (`broker-cli sub t | head`) exits quietly with status 0, as a
/// reader that has seen enough is not an error.
final class OutputBuffer {
    /// The descriptor written to.
    let fd: Int32
    /// Bytes not yet written. Appended to per message by one thread, never in overlapping
    /// accesses: no run-time exclusivity check (it cost as much as the append).
    @exclusivity(unchecked)
    var bytes: [UInt8] = []
    /// The size at which `flushIfFull` writes.
    let limit: Int

    init(fd: Int32, limit: Int = 64 * 1024) {
        self.fd = fd
        self.limit = limit
        bytes.reserveCapacity(limit + 1024)
    }

    /// Appends text.
    func append(_ text: String) { bytes.append(contentsOf: text.utf8) }

    /// Writes the buffer once it passed the limit.
    func flushIfFull() { if bytes.count >= limit { flush() } }

    /// Writes everything buffered.
    func flush() {
        if bytes.isEmpty { return }
        bytes.withUnsafeBytes { writeAll(fd: fd, $0) }
        bytes.removeAll(keepingCapacity: true)
    }
}

/// Writes all of `raw` to `fd`, retrying EINTR and waiting out EAGAIN.
func writeAll(fd: Int32, _ raw: UnsafeRawBufferPointer) {
    var offset = 0
    while offset < raw.count {
        let count = Glibc.write(fd, raw.baseAddress.map { $0 + offset }, raw.count - offset)
        if count >= 0 {
            offset += count
            continue
        }
        switch errno {
        case EINTR: continue
        case EAGAIN, EWOULDBLOCK:
            var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            _ = poll(&entry, 1, -1)
        case EPIPE where fd == STDOUT_FILENO:
            exit(0)
        default:
            if fd != STDERR_FILENO { diagnose("cannot write output: \(errorTextOf(errno))") }
            exit(1)
        }
    }
}

/// Prints `broker-cli: <message>` on stderr, unbuffered.
func diagnose(_ message: String) {
    let line = "broker-cli: \(message)\n"
    let bytes = Array(line.utf8)
    bytes.withUnsafeBytes { writeAll(fd: STDERR_FILENO, $0) }
}

/// Writes text to stderr as it is.
func writeStderr(_ text: String) {
    let bytes = Array(text.utf8)
    bytes.withUnsafeBytes { writeAll(fd: STDERR_FILENO, $0) }
}

/// Writes text to stdout as it is, unbuffered.
func writeStdout(_ text: String) {
    let bytes = Array(text.utf8)
    bytes.withUnsafeBytes { writeAll(fd: STDOUT_FILENO, $0) }
}

/// The system's text for an errno value (thread-safe: `strerror_r`, see ``errorText(_:)``).
func errorTextOf(_ code: Int32) -> String {
    errorText(code)
}
