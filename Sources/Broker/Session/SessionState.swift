// Where a session is in its life, and why it closed.
import Posix
import Protocol

/// Why a session was closed (logged with the close).
///
/// A plain value (no reference inside), so that ``SessionState``, which holds
/// it, is copied without reference counting: the state is read for every line.
enum CloseReason: Equatable, CustomStringConvertible {
    case peerClosed
    case quit
    case idleTimeout
    case shutdown
    /// A read failed with this errno.
    case readError(errno: Int32)
    /// A write (or a change of what the transport watches) failed with this errno.
    case writeError(errno: Int32)
    case peerReset
    case authFailed
    /// A `BPUB` made the byte stream unreadable (`BYE bad-framing`).
    case badFraming
    /// A subscription's stream was replaced by the engine (`BYE stream-reset`).
    case streamReset
    /// The WebSocket transport closed with this close code (a protocol violation by the client).
    case webSocket(code: UInt16)
    /// TLS failed: a handshake refused or timed out, or a record that could not be read.
    case tls(TLSFailure)

    var description: String {
        switch self {
        case .peerClosed: "peer closed the connection"
        case .quit: "client sent QUIT"
        case .idleTimeout: "idle timeout"
        case .shutdown: "broker shutting down"
        case let .readError(code): "read failed: \(SystemError.text(errno: code))"
        case let .writeError(code): "write failed: \(SystemError.text(errno: code))"
        case .peerReset: "connection reset by peer"
        case .authFailed: "authentication failed"
        case .badFraming: "the byte stream could not be framed (BPUB)"
        case .streamReset: "a subscribed stream was replaced in the engine"
        case let .webSocket(code): "WebSocket close \(code)"
        case let .tls(failure): "TLS: \(failure.text)"
        }
    }
}

/// How TLS failed on a connection (``CloseReason/tls(_:)``): a code, not a text, so that
/// the reason stays a plain value (a `String` inside made ``SessionState`` 18 bytes and
/// its copies reference-counted).
enum TLSFailure: UInt8 {
    case handshakeTimedOut
    case handshakeFailed
    case readFailed

    /// The words logged with the close.
    var text: String {
        switch self {
        case .handshakeTimedOut: "handshake timed out"
        case .handshakeFailed: "handshake failed"
        case .readFailed: "read failed"
        }
    }
}

/// The one state of a session; every transition is a method of ``Session``.
///
/// ```
/// reading ──(replies back up)──▶ paused ──(replies drain)──▶ reading
///    │                              │
///    ├──(EOF)───────────────────────┴──(EOF, once drained)──▶ closing(.peerClosed)
///    ├──(QUIT, BYE)─────────────────────────────────────────▶ closing(reason)
///    └──(error, reset)──▶ closed(reason) ◀──(output written)── closing
/// ```
enum SessionState: Equatable {
    /// Reading and executing commands.
    case reading
    /// Input held while the client's unread replies pass the high-water mark;
    /// `eofPending` when the peer has closed its side meanwhile (the lines
    /// already received still run once the replies drain).
    case paused(eofPending: Bool)
    /// No more commands run: what is queued is written, then the session closes
    /// with `reason`. `peerGone` when the client closed its side.
    case closing(reason: CloseReason, peerGone: Bool)
    /// Closed; late events are ignored.
    case closed(CloseReason)

    /// True once nothing more is executed (closing or closed).
    var isEnding: Bool {
        switch self {
        case .reading, .paused: false
        case .closing, .closed: true
        }
    }

    var isClosed: Bool {
        if case .closed = self { return true }
        return false
    }
}

/// Whether the session may run commands other than AUTH and QUIT.
enum SessionAccess: Equatable {
    /// A token is configured and the client has not sent it yet.
    case needsAuth
    /// No token is configured, or the client sent the right one.
    case granted
}
