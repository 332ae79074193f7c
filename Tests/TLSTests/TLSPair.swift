// A TLS server and client over one non-blocking socket pair, driven on one thread.
import Glibc
import TLS
import XCTest

/// The certificates of `Tests/Fixtures/tls` (made by scripts/dev-certs.sh).
enum Fixture {
    static let directory: String = {
        let here = URL(fileURLWithPath: #filePath)
        return here.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/tls").path
    }()

    static func path(_ name: String) -> String { "\(directory)/\(name)" }

    static func server(clientCA: String? = nil, certificate: String = "server") throws -> TLSContext {
        try TLSContext.server(certificateFile: path("\(certificate).pem"), keyFile: path("\(certificate).key"),
                              clientCAFile: clientCA.map(path))
    }

    static func client(ca: String? = "ca.pem", certificate: String? = nil, verify: Bool = true) throws -> TLSContext {
        try TLSContext.client(caFile: ca.map(path), certificateFile: certificate.map { path("\($0).pem") },
                              keyFile: certificate.map { path("\($0).key") }, verify: verify)
    }
}

/// Two connected, non-blocking stream sockets.
final class SocketPair {
    let server: Int32
    let client: Int32

    init(bufferBytes: Int32? = nil) throws {
        var fds: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds) == 0 else {
            throw TLSError("socketpair: \(errno)")
        }
        server = fds[0]
        client = fds[1]
        if var size = bufferBytes {
            for fd in fds {
                setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            }
        }
    }

    deinit {
        close(server)
        close(client)
    }

    /// Waits (up to 5 s) until `fd` is ready for what `step` asks; false on time-out.
    static func wait(_ fd: Int32, for step: TLSStep) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(step == .wantWrite ? POLLOUT : POLLIN), revents: 0)
        return poll(&entry, 1, 5000) > 0
    }
}

/// Runs both handshakes to the end, alternating; returns each side's failure, if any.
func handshake(_ server: TLSConnection, _ client: TLSConnection, pair: SocketPair) -> (server: TLSError?, client: TLSError?) {
    var serverError: TLSError?
    var clientError: TLSError?
    for _ in 0..<1000 {
        var serverStep = TLSStep.done(0)
        var clientStep = TLSStep.done(0)
        if serverError == nil {
            do { serverStep = try server.handshake() } catch { serverError = error }
        }
        if clientError == nil {
            do { clientStep = try client.handshake() } catch { clientError = error }
        }
        if serverError != nil || clientError != nil {
            // One side failed: let the other see the alert (or the end) once more.
            if serverError == nil { serverError = (try? server.handshake()) == .done(0) ? nil : TLSError("after the peer failed") }
            if clientError == nil { clientError = (try? client.handshake()) == .done(0) ? nil : TLSError("after the peer failed") }
            return (serverError, clientError)
        }
        if serverStep == .done(0) && clientStep == .done(0) { return (nil, nil) }
        if serverStep == .closed || clientStep == .closed { return (TLSError("closed"), TLSError("closed")) }
        var entries = [pollfd(fd: pair.server, events: Int16(serverStep == .wantWrite ? POLLOUT : POLLIN), revents: 0),
                       pollfd(fd: pair.client, events: Int16(clientStep == .wantWrite ? POLLOUT : POLLIN), revents: 0)]
        _ = poll(&entries, 2, 5000)
    }
    return (TLSError("no progress"), TLSError("no progress"))
}
