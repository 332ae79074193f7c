// One client connection's state, owned by its event loop.
import Protocol

/// Why a connection was closed (logged with the close).
enum CloseReason: CustomStringConvertible {
    case peerClosed
    case quit
    case idleTimeout
    case shutdown
    case readError(SystemError)
    case writeError(SystemError)
    case peerReset
    case authFailed

    var description: String {
        switch self {
        case .peerClosed: "peer closed the connection"
        case .quit: "client sent QUIT"
        case .idleTimeout: "idle timeout"
        case .shutdown: "broker shutting down"
        case let .readError(error): "read failed: \(error)"
        case let .writeError(error): "write failed: \(error)"
        case .peerReset: "connection reset by peer"
        case .authFailed: "authentication failed"
        }
    }
}

/// A client connection: its socket, framer, subscriptions and pending output.
///
/// Loop thread only: created, used and closed on the loop that owns it.
final class Connection {
    /// The socket.
    let fd: Int32
    /// The connection id shown in logs (unique for the process).
    let id: UInt64
    /// The key of this connection in its loop (fd and a generation).
    let token: UInt64
    /// The peer's `ip:port`.
    let peer: String
    /// Splits input into lines.
    var framer: LineFramer
    /// What is still to be written.
    @exclusivity(unchecked)
    var output = OutputQueue()
    /// Subscriptions by their SUB string.
    var subscriptions: [[UInt8]: Subscription] = [:]
    /// Cursors that may have messages to write, served round-robin.
    @exclusivity(unchecked)
    var ready: [Cursor] = []
    /// The events the loop currently watches this socket for.
    var interest: UInt32 = 0
    /// True while input is not read because replies are waiting to be written.
    var inputPaused = false
    /// True once the peer sent EOF.
    var readClosed = false
    /// True when the connection closes as soon as its output is written.
    var closeAfterFlush = false
    /// The reason logged when it does close.
    var pendingCloseReason: CloseReason = .peerClosed
    /// True once closed; late events for it are ignored.
    var isClosed = false
    /// True while on the loop's list of connections to flush this turn.
    var isDirty = false
    /// Since when (monotonic ms) an incomplete line has been held, if one is.
    var partialSinceMs: Int64?
    /// Set when a line completes; tells the idle timer that the held partial line is new.
    var completedLine = false
    /// The topic of the last PUB, reused while it is not retired.
    var publishCache: Topic?
    /// False until the client sent the right AUTH, when a token is configured.
    var authenticated = true
    /// The next subscription id of this connection.
    var nextSubscriptionID: UInt64 = 1

    init(fd: Int32, id: UInt64, token: UInt64, peer: String, maxLineBytes: Int) {
        self.fd = fd
        self.id = id
        self.token = token
        self.peer = peer
        self.framer = LineFramer(maxLineBytes: maxLineBytes)
    }

    deinit { output.removeAll() }
}
