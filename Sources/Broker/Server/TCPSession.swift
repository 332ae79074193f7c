// The TCP transport of a session: a non-blocking socket on the loop's reactor.
import Posix
import Glibc

/// A ``Session`` carried by a TCP socket: reads feed the session, its output is
/// written with `send`/`sendmsg`, and the reactor watches the socket for
/// exactly what the session needs. Loop thread only.
final class TCPSession: Session, ReactorHandler {
    /// Reads per readable event before giving other sessions a turn.
    static let readsPerTurn = 4

    /// The socket; closed when the session goes (``transportClose()`` has
    /// stopped watching it by then).
    let socket: SocketHandle
    /// The events the reactor currently watches this socket for.
    var interest: UInt32 = 0
    /// The loop's reactor. `unowned(unsafe)`: the loop owns it and closes every session first.
    unowned(unsafe) let reactor: Reactor

    init(socket: consuming SocketHandle, id: UInt64, token: ReactorToken, peer: String, reactor: Reactor, services: SessionServices) {
        self.socket = socket
        self.reactor = reactor
        super.init(id: id, token: token.rawValue, peer: peer, services: services)
    }

    func handleEvents(_ events: UInt32) {
        if state.isClosed { return }
        guard handleReadEvents(events, read) else { return }
        if events & EpollBits.writable != 0, !state.isClosed { services.scheduler.markDirty(self) }
    }

    private func read(_ peerHungUp: Bool) {
        readSocket(socket, reads: TCPSession.readsPerTurn, peerHungUp: peerHungUp) { receive(UnsafeRawBufferPointer($0)) }
    }

    override func transportWrite(_ output: inout OutputQueue) throws(SystemError) -> IOResult<Int> {
        let buffers = services.buffers
        return try output.write(vectors: buffers.vectors, staging: buffers.staging) { pieces throws(SystemError) in
            try socket.send(pieces: pieces)
        }
    }

    override func transportWatch(reading: Bool, writing: Bool) throws(SystemError) {
        var wanted: UInt32 = 0
        if reading { wanted |= EpollBits.readable | EpollBits.readHangup }
        if writing { wanted |= EpollBits.writable }
        guard wanted != interest else { return }
        try reactor.modify(socket.fd, token: ReactorToken(rawValue: token), events: wanted)
        interest = wanted
    }

    override func transportClose() {
        reactor.deregister(socket.fd, token: ReactorToken(rawValue: token))
        // The descriptor closes with the session object, within this turn: the
        // loop and the reactor have let go of it, and the flush list goes at the turn's end.
    }
}
