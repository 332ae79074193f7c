// The TCP socket: one funnel for errno, connect with a timeout, non-blocking read/write, poll.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What a non-blocking read or write achieved.
enum IOResult: Equatable {
    /// This many bytes moved (more than zero).
    case bytes(Int)
    /// Nothing can move now (`EAGAIN`/`EWOULDBLOCK`).
    case wouldBlock
    /// The peer closed its side (reads only).
    case endOfFile
}

/// One TCP socket, closed exactly once when the last reference goes.
///
/// The descriptor is never closed while a reference exists, so another thread
/// holding the handle may call ``shutdown()`` at any time without ever hitting a
/// reused descriptor number. Reads and writes belong to one thread at a time.
final class SocketHandle: Sendable {
    /// The descriptor, non-blocking, close-on-exec.
    let fd: Int32

    init(fd: Int32) { self.fd = fd }

    deinit { _ = Glibc.close(fd) }

    /// Shuts both directions: a read blocked on this socket in another thread returns end of file.
    /// Any thread.
    func shutdown() { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }

    /// Opens a connection to the first address of `endpoint` that accepts within `timeout`.
    static func connect(to endpoint: Endpoint, timeout: Duration) throws(BrokerClientError) -> SocketHandle {
        let address = endpoint.description
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(endpoint.host, String(endpoint.port), &hints, &list)
        guard status == 0, let first = list else {
            let reason = status == EAI_SYSTEM ? errorText(errno) : String(cString: gai_strerror(status))
            throw .cannotResolve(address: address, reason: reason)
        }
        defer { freeaddrinfo(first) }
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var lastError: Int32 = ECONNREFUSED
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            let result = attempt(info.pointee, deadline: deadline)
            switch result {
            case let .success(handle): return handle
            case let .failure(failure): lastError = failure.code
            }
            if lastError == ETIMEDOUT { break }
        }
        throw .cannotConnect(address: address, reason: errorText(lastError))
    }

    /// One connect attempt: a non-blocking socket, `connect`, then `poll` until the deadline.
    private static func attempt(_ info: addrinfo, deadline: ContinuousClock.Instant) -> Result<SocketHandle, SocketErrno> {
        let fd = socket(info.ai_family, info.ai_socktype | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), info.ai_protocol)
        guard fd >= 0 else { return .failure(SocketErrno(errno)) }
        let handle = SocketHandle(fd: fd)
        if Glibc.connect(fd, info.ai_addr, info.ai_addrlen) != 0 {
            // An interrupted connect goes on in the background: wait for it like EINPROGRESS.
            let code = errno
            guard code == EINPROGRESS || code == EINTR else { return .failure(SocketErrno(code)) }
            switch handle.wait(for: Int16(POLLOUT), until: deadline) {
            case .failure(let code): return .failure(code)
            case .success(false): return .failure(SocketErrno(ETIMEDOUT))
            case .success(true): break
            }
            var soError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length) == 0 else { return .failure(SocketErrno(errno)) }
            if soError != 0 { return .failure(SocketErrno(soError)) }
        }
        var one: Int32 = 1
        // Small frames (PING, single PUBs) must not wait for Nagle; batching is done by the caller.
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return .success(handle)
    }

    /// Waits until the socket is ready for `events` or the deadline passes (false). Retries EINTR.
    func wait(for events: Int16, until deadline: ContinuousClock.Instant?) -> Result<Bool, SocketErrno> {
        while true {
            var timeout: Int32 = -1
            if let deadline {
                let left = ContinuousClock.now.duration(to: deadline)
                if left <= .zero { return .success(false) }
                let (seconds, attoseconds) = left.components
                timeout = Int32(clamping: seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
            }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                return .failure(SocketErrno(errno))
            }
            if ready > 0 { return .success(true) }
        }
    }

    /// Reads what is there without blocking.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(BrokerClientError) -> IOResult {
        while true {
            let count = recv(fd, buffer.baseAddress, buffer.count, 0)
            if count > 0 { return .bytes(count) }
            if count == 0 { return .endOfFile }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: throw .system("recv")
            }
        }
    }

    /// Writes what fits without blocking; never raises SIGPIPE.
    func write(_ bytes: UnsafeRawBufferPointer) throws(BrokerClientError) -> IOResult {
        if bytes.isEmpty { return .bytes(0) }
        while true {
            let count = send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if count >= 0 { return count == 0 ? .wouldBlock : .bytes(count) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: throw .system("send")
            }
        }
    }

    /// Writes all of `bytes`, waiting for room as needed.
    func writeAll(_ bytes: UnsafeRawBufferPointer) throws(BrokerClientError) {
        var offset = 0
        while offset < bytes.count {
            switch try write(UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
            case let .bytes(count): offset += count
            case .wouldBlock, .endOfFile:
                if case let .failure(code) = wait(for: Int16(POLLOUT), until: nil) { throw .system("poll", code.code) }
            }
        }
    }
}

/// An errno value as an `Error`, for `Result`.
struct SocketErrno: Error {
    let code: Int32
    init(_ code: Int32) { self.code = code }
}
