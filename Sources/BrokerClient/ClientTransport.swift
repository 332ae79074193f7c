// The bytes under a client connection: the socket itself, or TLS over it, behind one set of calls.
import Glibc
import Posix
import TLS

/// What carries a connection's bytes: a non-blocking socket, and once ``startTLS(_:host:deadline:)``
/// completed, TLS over it. `read`, `send` and `poll` mean the same with and without TLS (the
/// WebSocket framing runs on top of them), so TLS's needs are hidden here: a read that needs
/// the socket writable first makes `poll` wait for that and report the socket readable, and
/// decrypted bytes TLS already holds make it report readable at once.
///
/// The connection's thread only, but for ``handle``'s `shutdown`, which any thread may call.
final class ClientTransport {
    /// The socket, non-blocking, close-on-exec, `TCP_NODELAY`; closed with this object.
    let handle: SocketHandle
    private var tls: TLSConnection?
    /// The last TLS read stopped until the socket is writable.
    private var readNeedsWritable = false
    /// The last TLS write stopped until the socket is readable.
    private var writeNeedsReadable = false
    /// Why the last TLS read or write failed.
    private(set) var tlsFailure: TLSError?

    init(_ handle: consuming SocketHandle) {
        self.handle = handle
    }

    /// Runs the TLS handshake with `options`, naming `host` (SNI, and the name the broker's
    /// certificate must carry), until `deadline`.
    func startTLS(_ options: TLSClientOptions, host: String, address: String,
                  deadline: ContinuousClock.Instant) throws(BrokerClientError) {
        let connection: TLSConnection
        do {
            try TLSLibrary.load()
            let context = try TLSContext.client(caFile: options.caFile, certificateFile: options.certificateFile,
                                                keyFile: options.keyFile, verify: options.verify)
            connection = try TLSConnection(context: context, fd: handle.fd, hostName: host)
        } catch {
            throw .cannotConnect(address: address, reason: "TLS: \(error.reason)")
        }
        while true {
            let step: TLSStep
            do {
                step = try connection.handshake()
            } catch {
                throw .cannotConnect(address: address, reason: "TLS handshake: \(error.reason)")
            }
            let wanted: PollEvents
            switch step {
            case .done:
                tls = connection
                return
            case .closed: throw .cannotConnect(address: address, reason: "TLS handshake: the broker closed the connection")
            case .wantRead: wanted = .readable
            case .wantWrite: wanted = .writable
            }
            do {
                if try handle.poll(for: wanted, until: deadline).isEmpty { throw BrokerClientError.timedOut("the TLS handshake") }
            } catch let error as SystemError {
                throw BrokerClientError(error)
            } catch let error as BrokerClientError {
                throw error
            } catch {
                throw .protocolViolation("\(error)")
            }
        }
    }

    /// Reads what is there without blocking; `.done(0)` at the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        guard let tls else { return try handle.read(into: buffer) }
        let step: TLSStep
        do {
            step = try tls.read(into: buffer)
        } catch {
            tlsFailure = error
            throw SystemError("SSL_read", errno: EPROTO)
        }
        readNeedsWritable = step == .wantWrite
        switch step {
        case let .done(count): return .done(count)
        case .closed: return .done(0)
        case .wantRead, .wantWrite: return .wouldBlock
        }
    }

    /// Writes what fits without blocking; never raises SIGPIPE.
    func send(_ bytes: UnsafeRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        guard let tls else { return try handle.send(bytes) }
        let step: TLSStep
        do {
            step = try tls.write(bytes)
        } catch {
            tlsFailure = error
            throw SystemError("SSL_write", errno: EPROTO)
        }
        writeNeedsReadable = step == .wantRead
        switch step {
        case let .done(count): return .done(count)
        case .closed: throw SystemError("SSL_write", errno: EPIPE)
        case .wantRead, .wantWrite: return .wouldBlock
        }
    }

    /// Waits until a `read` or `send` can go on (`events`) or `deadline` passes; returns what
    /// is ready, empty when the deadline passed first.
    func poll(for events: PollEvents, until deadline: ContinuousClock.Instant?) throws(SystemError) -> PollEvents {
        guard let tls else { return try handle.poll(for: events, until: deadline) }
        if events.contains(.readable), tls.pendingPlaintext > 0 { return .readable }
        var asked = events
        if events.contains(.readable) && readNeedsWritable { asked.insert(.writable) }
        if events.contains(.writable) && writeNeedsReadable { asked.insert(.readable) }
        let ready = try handle.poll(for: asked, until: deadline)
        var result = ready.intersection(events.union([.error, .hangup]))
        if ready.contains(.writable) && readNeedsWritable && events.contains(.readable) { result.insert(.readable) }
        if ready.contains(.readable) && writeNeedsReadable && events.contains(.writable) { result.insert(.writable) }
        return result
    }

    /// A client error for a failed call, with TLS's reason when TLS failed.
    func clientError(_ error: SystemError) -> BrokerClientError {
        if let tlsFailure, error.errno == EPROTO { return .system(call: "TLS", errno: EPROTO, reason: tlsFailure.reason) }
        return BrokerClientError(error)
    }
}
