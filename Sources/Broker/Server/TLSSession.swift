// The TLS transport of a session (`tls_port`): the line protocol inside TLS over a non-blocking socket.
import Glibc
import Posix
import TLS

/// A ``Session`` carried by TLS over a TCP socket: the same protocol as ``TCPSession``, its bytes
/// encrypted per connection.
///
/// Guarantees:
/// - Nothing is read or written as the protocol's until the handshake completed; a handshake not
///   complete within `tls_handshake_timeout_ms` (or refused: plaintext, a wrong or missing client
///   certificate) closes the connection, logged with OpenSSL's reason.
/// - The output queue is the one every session has: a message's frame is shared with every other
///   subscriber up to here, and encrypted for this connection only as it is written
///   (``TLSLink``), in records of up to 16 KiB.
/// - Reads and writes wait for whichever readiness TLS needs, in either direction.
///
/// Loop thread only.
final class TLSSession: Session, ReactorHandler {
    /// Reads per readable event before giving other sessions a turn.
    static let readsPerTurn = 4

    /// The socket; closed when the session goes.
    let socket: SocketHandle
    /// The events the reactor currently watches this socket for.
    var interest: UInt32 = 0
    /// The loop's reactor. `unowned(unsafe)`: the loop owns it and closes every session first.
    unowned(unsafe) let reactor: Reactor
    let link: TLSLink
    /// Closes the connection if its handshake has not completed by then.
    private var handshakeDeadline: ReactorTimer?

    init(socket: consuming SocketHandle, id: UInt64, token: ReactorToken, peer: String, reactor: Reactor,
         services: SessionServices, context: TLSContext, handshakeTimeoutMs: Int) throws(TLSError) {
        link = try TLSLink(context: context, fd: socket.fd)
        self.socket = socket
        self.reactor = reactor
        super.init(id: id, token: token.rawValue, peer: peer, services: services)
        handshakeDeadline = reactor.addTimer(at: monotonicMilliseconds() + Int64(handshakeTimeoutMs)) { [weak self] in
            guard let self, !state.isClosed, !link.isEstablished else { return }
            handshakeDeadline = nil
            services.core.logger.info("TLS handshake not completed within \(handshakeTimeoutMs) ms", connection: id, peer: peer)
            close(reason: .tls(.handshakeTimedOut))
        }
    }

    override var transportName: String { "tls" }

    func handleEvents(_ events: UInt32) {
        if state.isClosed { return }
        if !link.isEstablished {
            advanceHandshake()
            return
        }
        handleTLSEvents(events, link, read)
    }

    private func advanceHandshake() {
        var peerLeft = false
        let complete: Bool
        do {
            complete = try link.handshake(peerLeft: &peerLeft)
        } catch {
            services.core.logger.info("TLS handshake failed: \(TLSLink.describeHandshakeFailure(error))", connection: id, peer: peer)
            close(reason: .tls(.handshakeFailed))
            return
        }
        if peerLeft {
            close(reason: .peerClosed)
            return
        }
        guard complete else {
            updateInterest()
            return
        }
        if let handshakeDeadline { reactor.cancelTimer(handshakeDeadline) }
        handshakeDeadline = nil
        services.core.logger.debug("TLS established: \(link.connection.protocolDescription)", connection: id, peer: peer)
        if services.core.settings.access.list != nil, let name = link.connection.peerCommonName {
            services.core.certificateVerified(commonName: name, on: self)
        }
        updateInterest()
        if !output.isEmpty { services.scheduler.markDirty(self) }
        if case .reading = state { read(false) }  // bytes that came with the handshake's end
    }

    private func read(_ peerHungUp: Bool) {
        readTLS(link, reads: TLSSession.readsPerTurn, reactor: reactor) { receive(UnsafeRawBufferPointer($0)) }
    }

    override func transportWrite(_ output: inout OutputQueue) throws(SystemError) -> IOResult<Int> {
        try writeTLS(link, &output)
    }

    override func transportWatch(reading: Bool, writing: Bool) throws(SystemError) {
        let wanted = link.events(reading: reading, writing: writing)
        if reading, link.isEstablished { readBufferedTLS(link, reactor: reactor) }
        guard wanted != interest else { return }
        try reactor.modify(socket.fd, token: ReactorToken(rawValue: token), events: wanted)
        interest = wanted
    }

    override func transportClose() {
        if let handshakeDeadline { reactor.cancelTimer(handshakeDeadline) }
        handshakeDeadline = nil
        link.close(reactor: reactor)
        reactor.deregister(socket.fd, token: ReactorToken(rawValue: token))
    }
}
