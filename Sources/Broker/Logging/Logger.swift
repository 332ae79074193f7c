// Log lines to stderr: timestamp, level, connection id and peer, message.
import Glibc
import Synchronization

/// Writes log lines to standard error, one `write(2)` per line so lines from
/// several threads never interleave. Any thread. The level can change at run
/// time (a configuration reload).
///
/// Format: `2026-11-27T03:40:00.123Z info conn=12 peer=127.0.0.1:5555 connection opened`.
public final class Logger: Sendable {
    /// Where lines go.
    private enum Destination: Sendable {
        /// One `write(2)` per line to this descriptor.
        case descriptor(Int32)
        /// Each line, without its LF, to this function (tests, the in-memory broker).
        case sink(@Sendable (String) -> Void)
    }

    private let level: Atomic<Int>
    private let destination: Destination

    public init(level: LogLevel, descriptor: Int32 = 2) {
        self.level = Atomic(level.rank)
        destination = .descriptor(descriptor)
    }

    /// A logger that hands each line to `sink` instead of writing it anywhere.
    public init(level: LogLevel, sink: @escaping @Sendable (String) -> Void) {
        self.level = Atomic(level.rank)
        destination = .sink(sink)
    }

    /// Changes the least severe level that is written.
    public func setLevel(_ newLevel: LogLevel) {
        level.store(newLevel.rank, ordering: .relaxed)
    }

    /// Whether a message at `messageLevel` would be written (to skip building it).
    public func isEnabled(_ messageLevel: LogLevel) -> Bool {
        messageLevel.rank >= level.load(ordering: .relaxed)
    }

    public func debug(_ message: @autoclosure () -> String, connection: UInt64? = nil, peer: String? = nil) {
        log(.debug, message(), connection: connection, peer: peer)
    }

    public func info(_ message: @autoclosure () -> String, connection: UInt64? = nil, peer: String? = nil) {
        log(.info, message(), connection: connection, peer: peer)
    }

    public func warn(_ message: @autoclosure () -> String, connection: UInt64? = nil, peer: String? = nil) {
        log(.warn, message(), connection: connection, peer: peer)
    }

    public func error(_ message: @autoclosure () -> String, connection: UInt64? = nil, peer: String? = nil) {
        log(.error, message(), connection: connection, peer: peer)
    }

    /// Writes one line if `messageLevel` is enabled.
    public func log(_ messageLevel: LogLevel, _ message: @autoclosure () -> String, connection: UInt64? = nil, peer: String? = nil) {
        guard isEnabled(messageLevel) else { return }
        var line = Logger.timestamp()
        line += " \(messageLevel.rawValue)"
        if let connection { line += " conn=\(connection)" }
        if let peer { line += " peer=\(peer)" }
        line += " "
        line += message()
        let descriptor: Int32
        switch destination {
        case let .sink(sink):
            sink(line)
            return
        case let .descriptor(fd):
            descriptor = fd
        }
        line += "\n"
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset < raw.count {
                guard let base = raw.baseAddress else { return }
                let written = Glibc.write(descriptor, base + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return  // stderr is gone; nothing better to do with a log line
                }
                offset += written
            }
        }
    }

    /// UTC, RFC 3339 with milliseconds.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
    }
}
