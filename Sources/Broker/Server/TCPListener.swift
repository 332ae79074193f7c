// The line-protocol listener: accepts TCP connections and spreads them over the loops.
import Posix
import Glibc
import Protocol

/// Accepts connections on one of the broker's listening sockets, plaintext or TLS (on loop 0), and hands
/// each to a loop in turn, enforcing `max_connections`. When the process runs
/// out of file descriptors it stops accepting for 100 ms instead of spinning.
/// Loop thread only.
final class TCPListener: ReactorHandler {
    /// The listening socket; closed with the listener.
    let socket: SocketHandle
    private let token: ReactorToken
    /// The loop that owns the listener. `unowned(unsafe)`: the loop owns its reactor, which owns this.
    private unowned(unsafe) let loop: BrokerLoop
    /// Every loop's mailbox, this one's included, in order.
    private let targets: [LoopMailbox]
    private var nextTarget = 0
    /// Whether its connections speak TLS (`tls_port`).
    let secure: Bool

    init(socket: consuming SocketHandle, token: ReactorToken, loop: BrokerLoop, targets: [LoopMailbox], secure: Bool) {
        self.socket = socket
        self.token = token
        self.loop = loop
        self.targets = targets
        self.secure = secure
    }

    func handleEvents(_ events: UInt32) {
        let context = loop.context
        for _ in 0..<64 {
            let accepted: IOResult<AcceptedSocket>
            do {
                accepted = try socket.accept()
            } catch {
                if error.isResourceExhaustion {
                    context.logger.warn("cannot accept: \(error); pausing accept for 100 ms")
                    loop.reactor.pause(socket.fd, token: token, forMs: 100, thenWatch: EpollBits.readable)
                    return
                }
                continue  // ECONNABORTED and the like concern only that connection
            }
            guard case let .done(connection) = accepted else { return }
            let peer = connection.peer
            let limit = loop.core.settings.maxConnections
            let open = context.connectionCount.wrappingAdd(1, ordering: .relaxed).newValue
            if limit > 0 && open > limit {
                context.connectionCount.wrappingSubtract(1, ordering: .relaxed)
                connection.socket.sayBye(.tooManyConnections, "the broker has \(limit) connections, its limit")
                context.logger.warn("refused connection: max_connections \(limit) reached", peer: peer.description)
                continue
            }
            let target = targets.isEmpty ? loop.mailbox : targets[nextTarget % targets.count]
            nextTarget &+= 1
            if target === loop.mailbox {
                loop.adopt(connection.socket, peer: peer, secure: secure)
            } else {
                // Across threads as a number: the mailbox's commands are copyable. The
                // receiving loop adopts it; a mailbox whose loop has ended closes it.
                target.send(.adopt(fd: connection.socket.release(), peer: peer, secure: secure))
            }
        }
    }

    /// Stops watching the socket; it closes when the loop lets go of the listener.
    func close() {
        loop.reactor.deregister(socket.fd, token: token)
    }
}
