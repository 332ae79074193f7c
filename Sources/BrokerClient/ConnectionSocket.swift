// The connection's socket: a Posix SocketHandle owned by a class, so a Canceller on another thread can shut it down.
import Posix

/// The socket of one ``BrokerConnection``, shared with its ``BrokerConnection/Canceller``s.
///
/// Invariant: the descriptor lives exactly as long as this object. The class owns
/// the `~Copyable` ``SocketHandle`` (through its ``ClientTransport``), which closes the
/// descriptor in its `deinit` when the last reference to the object goes, and nothing else
/// closes it. So a canceller on any thread may call ``shutdown()`` at any time without ever
/// reaching a closed or reused descriptor number. Reads, writes and waits belong to the
/// connection's thread; so do TLS (`tls://`, `wss://`) and the WebSocket framing of a
/// `ws://`/`wss://` endpoint (``WebSocketClientStream``), through which they then go.
final class ConnectionSocket: @unchecked Sendable {
    // @unchecked Sendable: `transport`'s TLS and `webSocket` are mutable state, touched only by
    // the connection's thread (reads, writes, waits); other threads only call `shutdown()`,
    // which uses the socket handle alone.

    /// The bytes: the socket, or TLS over it.
    let transport: ClientTransport
    /// The WebSocket framing, for a `ws://` or `wss://` endpoint (set once, while connecting).
    private var webSocket: WebSocketClientStream?

    private init(_ transport: ClientTransport) {
        self.transport = transport
    }

    /// The descriptor, valid while this object lives.
    var fd: Int32 { transport.handle.fd }

    /// Opens a connection to the first address of `endpoint` that accepts within `timeout`;
    /// for a TLS endpoint, completes the TLS handshake, and for a WebSocket endpoint, upgrades
    /// it, all within the same `timeout`.
    static func connect(to endpoint: Endpoint, timeout: Duration) throws(BrokerClientError) -> ConnectionSocket {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let handle: SocketHandle
        do {
            handle = try SocketHandle.connect(to: endpoint.host, port: Int(endpoint.port), timeout: timeout)
        } catch {
            switch error {
            case let .cannotResolve(_, reason): throw .cannotResolve(address: endpoint.description, reason: reason)
            case let .cannotConnect(failure): throw .cannotConnect(address: endpoint.description, reason: failure.reason)
            }
        }
        // Small frames (PING, single PUBs) must not wait for Nagle; batching is done by the caller.
        try? handle.setNoDelay()
        let socket = ConnectionSocket(ClientTransport(handle))
        if let options = endpoint.tls {
            try socket.transport.startTLS(options, host: endpoint.host, address: endpoint.description, deadline: deadline)
        }
        if let path = endpoint.webSocketPath {
            let early = try WebSocketClientStream.handshake(on: socket.transport, endpoint: endpoint, path: path, deadline: deadline)
            socket.webSocket = WebSocketClientStream(early: early)
        }
        return socket
    }

    /// Shuts both directions: a read blocked on this socket in another thread returns
    /// end of file. Any thread, any number of times (a socket already shut or reset
    /// reports `ENOTCONN`, which changes nothing).
    func shutdown() { try? transport.handle.shutdown(.both) }

    /// Reads what is there without blocking; `.done(0)` is the broker's end of file.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(BrokerClientError) -> IOResult<Int> {
        if let webSocket { return try webSocket.read(into: buffer, on: transport) }
        do { return try transport.read(into: buffer) } catch { throw transport.clientError(error) }
    }

    /// Writes what fits without blocking; never raises SIGPIPE.
    func write(_ bytes: UnsafeRawBufferPointer) throws(BrokerClientError) -> IOResult<Int> {
        if bytes.isEmpty { return .done(0) }
        do {
            if let webSocket { return try webSocket.write(bytes, on: transport) }
            return try transport.send(bytes)
        } catch { throw transport.clientError(error) }
    }

    /// Writes all of `bytes`, waiting for room as needed.
    func writeAll(_ bytes: UnsafeRawBufferPointer) throws(BrokerClientError) {
        var offset = 0
        while offset < bytes.count {
            switch try write(UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
            case let .done(count): offset += count
            case .wouldBlock: _ = try wait(for: .writable, until: nil)
            }
        }
    }

    /// Waits until the socket is ready for `events` or `deadline` passes (nil: none);
    /// returns what is ready, empty when the deadline passed first.
    /// Over a WebSocket, frames not yet written are written meanwhile, and the socket is
    /// writable for the caller only once they are.
    func wait(for events: PollEvents, until deadline: ContinuousClock.Instant?) throws(BrokerClientError) -> PollEvents {
        do {
            guard let webSocket else { return try transport.poll(for: events, until: deadline) }
            while true {
                if webSocket.hasPendingWire, try webSocket.flush(on: transport) == false {
                    let ready = try transport.poll(for: events.union(.writable), until: deadline)
                    if ready.isEmpty { return [] }
                    let forCaller = ready.subtracting(.writable).intersection(events.union([.error, .hangup]))
                    if !forCaller.isEmpty { return forCaller }
                    continue  // writable: the next pass writes
                }
                return try transport.poll(for: events, until: deadline)
            }
        } catch { throw transport.clientError(error) }
    }
}
