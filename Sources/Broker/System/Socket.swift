// TCP sockets: the listening socket, accepting, per-connection options, and I/O calls.
import CBrokerShim
import Glibc

/// Socket calls used by the server, each checked, EINTR retried, EAGAIN reported as a result.
enum Socket {
    /// Creates a non-blocking listening socket bound to `address` with SO_REUSEADDR.
    static func listen(on address: SocketAddress, backlog: Int32 = 4096) throws(SystemError) -> Int32 {
        let fd = try retryingEINTR("socket") {
            socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        do throws(SystemError) {
            var one: Int32 = 1
            _ = try retryingEINTR("setsockopt(SO_REUSEADDR)") {
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            }
            var storage = address.storage
            _ = try retryingEINTR("bind") {
                withUnsafePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, address.length) }
                }
            }
            _ = try retryingEINTR("listen") { Glibc.listen(fd, backlog) }
            return fd
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
    }

    /// The address a socket is bound to (to learn the port picked for port 0).
    static func localAddress(_ fd: Int32) throws(SystemError) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try retryingEINTR("getsockname") {
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
        }
        return SocketAddress(storage: storage, length: length)
    }

    /// Accepts one connection as a non-blocking socket, or `.wouldBlock`.
    /// Errors that concern only the connection being accepted (it was reset) are
    /// reported as `.wouldBlock`-free retries by the caller: they throw.
    static func accept(_ listener: Int32) throws(SystemError) -> IOResult<(Int32, SocketAddress)> {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = try nonBlocking("accept4") {
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    cbroker_accept4(listener, $0, &length, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
                }
            }
        }
        switch result {
        case let .done(fd): return .done((fd, SocketAddress(storage: storage, length: length)))
        case .wouldBlock: return .wouldBlock
        }
    }

    /// TCP_NODELAY, and keepalive probing after `keepaliveSeconds` idle (0 = off).
    /// Failures are ignored: they only make the connection less responsive.
    static func configureConnection(_ fd: Int32, keepaliveSeconds: Int) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        guard keepaliveSeconds > 0 else { return }
        var idle = Int32(min(keepaliveSeconds, 32767))
        var interval = Int32(max(1, min(keepaliveSeconds / 3, 75)))
        var probes: Int32 = 3
        let size = socklen_t(MemoryLayout<Int32>.size)
        _ = setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, size)
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPIDLE, &idle, size)
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPINTVL, &interval, size)
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPCNT, &probes, size)
    }

    /// Reads into `buffer`: `.done(0)` is end of file.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try nonBlocking("read") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// Sends the iovecs in order; returns how many bytes the kernel took.
    ///
    /// `send` for one piece (the usual case: small pieces are staged into one),
    /// `sendmsg` for several: both enter the socket layer directly, skipping the
    /// VFS layers `writev` goes through (perf, 64 subscribers: `vfs_writev`,
    /// `do_iter_readv_writev`, `sock_write_iter`, `fdget_pos` ≈ 4 % of the loop).
    /// `MSG_NOSIGNAL`: a closed peer is an `EPIPE` error, never a signal.
    static func send(_ fd: Int32, pieces vectors: UnsafeBufferPointer<iovec>) throws(SystemError) -> IOResult<Int> {
        if vectors.count == 1 {
            let piece = vectors[0]
            return try nonBlocking("send") { Glibc.send(fd, piece.iov_base, piece.iov_len, Int32(MSG_NOSIGNAL)) }
        }
        var message = msghdr()
        message.msg_iov = UnsafeMutablePointer(mutating: vectors.baseAddress)
        message.msg_iovlen = vectors.count
        return try nonBlocking("sendmsg") { Glibc.sendmsg(fd, &message, Int32(MSG_NOSIGNAL)) }
    }

    /// Writes bytes without raising SIGPIPE; for the one-off frames written before a close.
    static func send(_ fd: Int32, _ bytes: [UInt8]) -> Int {
        bytes.withUnsafeBytes { raw in
            while true {
                let sent = Glibc.send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL))
                if sent >= 0 || cbroker_errno() != EINTR { return sent }
            }
        }
    }

    /// Closes a descriptor. EINTR is not retried: on Linux the descriptor is closed anyway.
    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }
}
