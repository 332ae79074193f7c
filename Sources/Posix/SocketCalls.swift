// The socket calls themselves, over a descriptor number: what SocketHandle's methods (and the server's raw-fd API) run.
import CBrokerShim
import Glibc

/// The socket system calls, each through the funnel (``Syscall``): EINTR
/// retried, EAGAIN a result, programmer errors trapped, the rest thrown.
///
/// Internal: callers own their descriptor as a ``SocketHandle`` and use its
/// methods; only ``Socket`` (the server's transitional raw-fd API) calls these
/// with a bare number. Stateless; any thread.
@usableFromInline
enum SocketCalls {
    /// The flags every socket of the layer is made with.
    static let socketFlags = Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)

    /// Reads what is there: `.done(0)` is end of file.
    ///
    /// `recv` rather than `read`: like `send` below, it enters the socket layer
    /// directly instead of going through the VFS (same data, same errors).
    @inlinable
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try Syscall.nonBlocking("recv") { Glibc.recv(fd, buffer.baseAddress, buffer.count, 0) }
    }

    /// Sends the bytes; returns how many the kernel took.
    @inlinable
    static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try Syscall.nonBlocking("send") { Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Sends the iovecs in order; returns how many bytes the kernel took.
    ///
    /// `send` for one piece (the usual case: small pieces are staged into one),
    /// `sendmsg` for several: both enter the socket layer directly, skipping the
    /// VFS layers `writev` goes through (perf, 64 subscribers: `vfs_writev`,
    /// `do_iter_readv_writev`, `sock_write_iter`, `fdget_pos` ≈ 4 % of the loop).
    /// `MSG_NOSIGNAL`: a closed peer is an `EPIPE` error, never a signal.
    @inlinable
    static func send(_ fd: Int32, pieces vectors: UnsafeBufferPointer<iovec>) throws(SystemError) -> IOResult<Int> {
        if vectors.count == 1 {
            let piece = vectors[0]
            return try Syscall.nonBlocking("send") { Glibc.send(fd, piece.iov_base, piece.iov_len, Int32(MSG_NOSIGNAL)) }
        }
        var message = msghdr()
        message.msg_iov = UnsafeMutablePointer(mutating: vectors.baseAddress)
        message.msg_iovlen = vectors.count
        return try Syscall.nonBlocking("sendmsg") { Glibc.sendmsg(fd, &message, Int32(MSG_NOSIGNAL)) }
    }

    /// Accepts one connection as a non-blocking, close-on-exec socket, or `.wouldBlock`.
    /// Errors that concern only the connection being accepted (`ECONNABORTED`) throw
    /// like the others; the caller decides which ones mean "try the next".
    static func accept(_ listener: Int32) throws(SystemError) -> IOResult<(Int32, SocketAddress)> {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = try Syscall.nonBlocking("accept4") {
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { cbroker_accept4(listener, $0, &length, socketFlags) }
            }
        }
        switch result {
        case let .done(fd): return .done((fd, SocketAddress(storage: storage, length: length)))
        case .wouldBlock: return .wouldBlock
        }
    }

    /// The address a socket is bound to (to learn the port picked for port 0).
    static func localAddress(_ fd: Int32) throws(SystemError) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try Syscall.blocking("getsockname") {
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
        }
        return SocketAddress(storage: storage, length: length)
    }

    /// Sets one integer socket option; `name` is for the error (`setsockopt(TCP_NODELAY)`).
    static func setOption(_ fd: Int32, level: Int32, option: Int32, to value: Int32, name: String) throws(SystemError) {
        var value = value
        _ = try Syscall.blocking(name) { setsockopt(fd, level, option, &value, socklen_t(MemoryLayout<Int32>.size)) }
    }

    /// Reads one integer socket option; `name` is for the error.
    static func option(_ fd: Int32, level: Int32, option: Int32, name: String) throws(SystemError) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = try Syscall.blocking(name) { getsockopt(fd, level, option, &value, &length) }
        return value
    }

    /// TCP_NODELAY, and keepalive probing after `keepaliveSeconds` idle (0 = off).
    /// Failures are ignored: they only make the connection less responsive.
    /// Sets on a listening socket what `configureConnection` sets on a connection: Linux gives
    /// every connection it accepts the listener's options (the socket is cloned from it), so
    /// the five `setsockopt` calls are made once, not once per connection. Keepalive off
    /// (`keepaliveSeconds` 0) clears `SO_KEEPALIVE`, so a change reaches later connections.
    static func configureListener(_ fd: Int32, keepaliveSeconds: Int) {
        configureConnection(fd, keepaliveSeconds: keepaliveSeconds)
        if keepaliveSeconds <= 0 {
            try? setOption(fd, level: SOL_SOCKET, option: SO_KEEPALIVE, to: 0, name: "setsockopt(SO_KEEPALIVE)")
        }
    }

    static func configureConnection(_ fd: Int32, keepaliveSeconds: Int) {
        let tcp = Int32(IPPROTO_TCP)
        try? setOption(fd, level: tcp, option: TCP_NODELAY, to: 1, name: "setsockopt(TCP_NODELAY)")
        guard keepaliveSeconds > 0 else { return }
        let idle = Int32(min(keepaliveSeconds, 32767))
        let interval = Int32(max(1, min(keepaliveSeconds / 3, 75)))
        try? setOption(fd, level: SOL_SOCKET, option: SO_KEEPALIVE, to: 1, name: "setsockopt(SO_KEEPALIVE)")
        try? setOption(fd, level: tcp, option: TCP_KEEPIDLE, to: idle, name: "setsockopt(TCP_KEEPIDLE)")
        try? setOption(fd, level: tcp, option: TCP_KEEPINTVL, to: interval, name: "setsockopt(TCP_KEEPINTVL)")
        try? setOption(fd, level: tcp, option: TCP_KEEPCNT, to: 3, name: "setsockopt(TCP_KEEPCNT)")
    }

    /// Shuts one or both directions down.
    static func shutdown(_ fd: Int32, _ how: Int32) throws(SystemError) {
        _ = try Syscall.blocking("shutdown") { Glibc.shutdown(fd, how) }
    }
}
