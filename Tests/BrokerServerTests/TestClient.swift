// A blocking TCP client for the end-to-end tests: send lines, read lines, expect lines.
import Glibc
import TLS
import Testing

/// Failure guard for blocking reads and writes: a test that waits this long has already failed.
let ioGuardSeconds = 30

/// A client-side failure (connect refused, a read timed out).
struct ClientError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One TCP connection to the broker, used from one thread at a time.
///
/// Reads are blocking with `SO_RCVTIMEO` as a failure guard only: every wait in
/// a test is for a line the protocol promises, never for time to pass.
final class TestClient {
    /// The socket.
    let fd: Int32
    /// Bytes received and not yet returned as lines: `buffer[start...]`.
    private var buffer: [UInt8] = []
    private var start = 0
    /// Where to resume the search for LF.
    private var scanned = 0
    /// TLS over the socket, once ``startTLS(_:hostName:)`` completed its handshake.
    private(set) var tls: TLSConnection?
    /// Why the last TLS read or write failed.
    private(set) var tlsFailure: TLSError?

    /// Connects to `127.0.0.1:port`. `receiveBuffer` sets `SO_RCVBUF` before
    /// connecting (a small one makes a stalled reader stall the broker soon).
    init(port: Int, receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ClientError("socket: errno \(errno)") }
        if var size = receiveBuffer {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var guardTime = timeval(tv_sec: ioGuardSeconds, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &guardTime, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &guardTime, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let error = errno
            Glibc.close(fd)
            throw ClientError("connect to port \(port): errno \(error)")
        }
    }

    deinit { Glibc.close(fd) }

    /// The local port of this connection (to find it in /proc/net/tcp).
    var localPort: Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    // MARK: TLS

    /// Runs a TLS handshake on the (blocking) socket; throws why it failed.
    func startTLS(_ context: TLSContext, hostName: String = "localhost") throws {
        let connection = try TLSConnection(context: context, fd: fd, hostName: hostName)
        guard try connection.handshake() == .done(0) else { throw ClientError("TLS handshake did not complete in time") }
        tls = connection
    }

    /// send(2), or a TLS write: the count sent, or -1 with errno set.
    private func transmit(_ base: UnsafeRawPointer, _ count: Int, flags: Int32) -> Int {
        guard let tls else { return Glibc.send(fd, base, count, flags) }
        do {
            switch try tls.write(UnsafeRawBufferPointer(start: base, count: count)) {
            case let .done(sent): return sent
            case .wantRead, .wantWrite: errno = EAGAIN
            case .closed: errno = EPIPE
            }
        } catch {
            tlsFailure = error
            errno = ECONNRESET
        }
        return -1
    }

    /// recv(2), or a TLS read: the count read (0 at the end), or -1 with errno set.
    private func receive(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let tls else { return recv(fd, buffer.baseAddress, buffer.count, 0) }
        do {
            switch try tls.read(into: buffer) {
            case let .done(count): return count
            case .wantRead, .wantWrite: errno = EAGAIN
            case .closed: return 0
            }
        } catch {
            tlsFailure = error
            errno = ECONNRESET
        }
        return -1
    }

    // MARK: Writing

    /// Sends `text` as it is (add the LF yourself), all of it.
    func sendRaw(_ text: String) throws { try sendBytes(Array(text.utf8)) }

    /// Sends one line: `line` followed by LF.
    func send(_ line: String) throws { try sendRaw(line + "\n") }

    func sendBytes(_ bytes: [UInt8]) throws {
        var offset = 0
        try bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                let sent = transmit(raw.baseAddress! + offset, raw.count - offset, flags: Int32(MSG_NOSIGNAL))
                if sent < 0 {
                    if errno == EINTR { continue }
                    throw ClientError("send: errno \(errno)")
                }
                offset += sent
            }
        }
    }

    /// Sends as much of `bytes[offset...]` as the socket takes without blocking;
    /// returns the new offset (less than `bytes.count` when the socket is full).
    func sendWithoutBlocking(_ bytes: [UInt8], from offset: Int) throws -> Int {
        var offset = offset
        try bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                // Over TLS a write cannot be made non-blocking here: it blocks (within the guard time).
                let flags = Int32(tls == nil ? MSG_NOSIGNAL | MSG_DONTWAIT : MSG_NOSIGNAL)
                let sent = transmit(raw.baseAddress! + offset, raw.count - offset, flags: flags)
                if sent < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN || errno == EWOULDBLOCK { return }
                    throw ClientError("send: errno \(errno)")
                }
                offset += sent
            }
        }
        return offset
    }

    /// Half-closes: the broker sees EOF, this side can still read.
    func shutdownWrite() { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) }

    // MARK: Reading

    /// The next line without its LF, or nil at end of file. Throws when the guard time passes.
    func readLine() throws -> String? {
        while true {
            if let newline = buffer[scanned...].firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[start..<newline], as: UTF8.self)
                start = newline + 1
                scanned = start
                if start > 1 << 20 {
                    buffer.removeFirst(start)
                    start = 0
                    scanned = 0
                }
                return line
            }
            scanned = buffer.count
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { receive(into: $0) }
            if count == 0 {
                return nil  // a partial line at EOF is not a line
            }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    throw ClientError("no line within \(ioGuardSeconds) s")
                }
                if errno == ECONNRESET { return nil }
                throw ClientError("recv: errno \(errno)")
            }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }

    /// Exactly `count` bytes (after what lines were read), or nil at end of file first.
    func readBytes(_ count: Int) throws -> [UInt8]? {
        while buffer.count - start < count {
            var chunk = [UInt8](repeating: 0, count: 65536)
            let received = chunk.withUnsafeMutableBytes { receive(into: $0) }
            if received == 0 { return nil }
            if received < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw ClientError("no \(count) bytes within \(ioGuardSeconds) s") }
                if errno == ECONNRESET { return nil }
                throw ClientError("recv: errno \(errno)")
            }
            buffer.append(contentsOf: chunk[0..<received])
        }
        let bytes = Array(buffer[start..<(start + count)])
        start += count
        scanned = start
        return bytes
    }

    /// The next line; end of file is a failure.
    func line() throws -> String {
        guard let line = try readLine() else { throw ClientError("end of file instead of a line") }
        return line
    }

    /// Reads the next line and expects it to be `expected`.
    func expectLine(_ expected: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let line = try readLine()
        #expect(line == expected, sourceLocation: sourceLocation)
    }

    /// Reads the next line and expects it to start with `prefix`.
    func expectLine(startingWith prefix: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let line = try readLine()
        #expect(line?.hasPrefix(prefix) == true, "got \(String(describing: line))", sourceLocation: sourceLocation)
    }

    /// Expects end of file next: the broker closed the connection.
    func expectEOF(sourceLocation: SourceLocation = #_sourceLocation) throws {
        let line = try readLine()
        #expect(line == nil, "expected end of file, got \(String(describing: line))", sourceLocation: sourceLocation)
    }

    /// Sends one command and returns the next line (its reply, when nothing else is owed).
    func request(_ line: String) throws -> String {
        try send(line)
        return try self.line()
    }

    /// PING as a barrier: every reply before it has been read once PONG is.
    func barrier(_ token: String = "barrier") throws {
        try send("PING \(token)")
        try expectLine("PONG \(token)")
    }
}

/// Raises the soft open-file limit to the hard limit (tests that open many sockets).
func raiseOpenFileLimit() {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}
