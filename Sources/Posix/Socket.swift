// The server's transitional raw-fd API: the old static socket functions over Int32, as thin wrappers.
import CBrokerShim
import Glibc

/// Raw-fd API for the server until it owns ``SocketHandle``s: the socket calls
/// the server used before the handle existed, over bare descriptor numbers.
///
/// Thin wrappers over the same calls as ``SocketHandle``'s methods (the same
/// funnel, the same `MSG_NOSIGNAL`); the caller owns each number and must
/// ``close(_:)`` it exactly once. New code takes a ``SocketHandle`` instead.
/// Stateless; any thread.
public enum Socket {
    /// A non-blocking listening socket bound to `address` with `SO_REUSEADDR`; the caller closes it.
    public static func listen(on address: SocketAddress, backlog: Int32 = 4096) throws(SystemError) -> Int32 {
        try SocketHandle.listen(on: address, backlog: backlog).release()
    }

    /// The address a socket is bound to (to learn the port picked for port 0).
    public static func localAddress(_ fd: Int32) throws(SystemError) -> SocketAddress {
        try SocketCalls.localAddress(fd)
    }

    /// Accepts one connection as a non-blocking socket, or `.wouldBlock`; the caller closes it.
    public static func accept(_ listener: Int32) throws(SystemError) -> IOResult<(Int32, SocketAddress)> {
        try SocketCalls.accept(listener)
    }

    /// TCP_NODELAY, and keepalive probing after `keepaliveSeconds` idle (0 = off); best effort.
    public static func configureConnection(_ fd: Int32, keepaliveSeconds: Int) {
        SocketCalls.configureConnection(fd, keepaliveSeconds: keepaliveSeconds)
    }

    /// Reads into `buffer`: `.done(0)` is end of file.
    @inlinable
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try SocketCalls.read(fd, into: buffer)
    }

    /// Sends the iovecs in order (`send` for one, `sendmsg` for several, `MSG_NOSIGNAL`).
    @inlinable
    public static func send(_ fd: Int32, pieces vectors: UnsafeBufferPointer<iovec>) throws(SystemError) -> IOResult<Int> {
        try SocketCalls.send(fd, pieces: vectors)
    }

    /// Sends what fits of `bytes` without raising SIGPIPE, for the one-off frames
    /// written before a close; returns the bytes taken, or -1 (would block or failed).
    public static func send(_ fd: Int32, _ bytes: [UInt8]) -> Int {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(SystemError) in try SocketCalls.send(fd, raw) } }
        guard case let .success(.done(count)) = result else { return -1 }
        return count
    }

    /// Closes a descriptor the caller owns (by ending a ``FileDescriptor`` that adopts it).
    public static func close(_ fd: Int32) {
        _ = FileDescriptor(adopting: fd)
    }
}

/// Raw-fd API for the server until it owns ``SocketHandle``s: ``Syscall/nonBlocking(_:_:)``
/// under its old name.
@inlinable
public func nonBlocking<T: FixedWidthInteger>(_ call: String, _ body: () -> T) throws(SystemError) -> IOResult<T> {
    try Syscall.nonBlocking(call, body)
}
