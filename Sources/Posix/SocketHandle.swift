// The TCP socket handle: one owner, closed in deinit; listen, accept, read, send, options, shutdown.
import CBrokerShim
import Glibc

/// One TCP socket (listening or connected), non-blocking and close-on-exec,
/// closed when the handle goes.
///
/// `~Copyable`: exactly one owner, so the descriptor is closed exactly once and
/// never used after; nobody closes it by hand. `Sendable`: the owner may move it
/// to another thread. Its methods are plain kernel calls on the borrowed handle:
/// one reader and one writer at a time (concurrent reads interleave data), while
/// ``shutdown(_:)`` may come from any thread that can borrow the handle — to let
/// another thread do that, put the handle in a final class that owns it.
///
/// Every call goes through the errno funnel (``Syscall``): results, not errors,
/// for "would block" and end of file; ``SystemError`` for the rest.
public struct SocketHandle: ~Copyable, Sendable {
    /// The owned descriptor.
    @usableFromInline
    let descriptor: FileDescriptor

    /// Takes ownership of `fd`, an open socket nobody else owns (it is closed with the handle).
    public init(adopting fd: Int32) {
        descriptor = FileDescriptor(adopting: fd)
    }

    /// The descriptor, for epoll registration and logs; valid while the handle lives.
    @inlinable
    public var fd: Int32 { descriptor.rawValue }

    /// Gives up ownership without closing: the caller now closes the number.
    /// Only for handing a descriptor to code that still takes raw numbers (``Socket``).
    public consuming func release() -> Int32 {
        descriptor.release()
    }

    // MARK: Listening

    /// A listening socket bound to `address` with `SO_REUSEADDR`.
    public static func listen(on address: SocketAddress, backlog: Int32 = 4096) throws(SystemError) -> SocketHandle {
        let socket = SocketHandle(adopting: try Syscall.blocking("socket") {
            Glibc.socket(address.family, Int32(SOCK_STREAM.rawValue) | SocketCalls.socketFlags, 0)
        })
        try SocketCalls.setOption(socket.fd, level: SOL_SOCKET, option: SO_REUSEADDR, to: 1, name: "setsockopt(SO_REUSEADDR)")
        _ = try Syscall.blocking("bind") { address.withSockaddr { bind(socket.fd, $0, $1) } }
        _ = try Syscall.blocking("listen") { Glibc.listen(socket.fd, backlog) }
        return socket
    }

    /// The address this socket is bound to (the port picked for port 0).
    public func localAddress() throws(SystemError) -> SocketAddress {
        try SocketCalls.localAddress(fd)
    }

    /// Accepts one connection from this listening socket, or `.wouldBlock`.
    /// Errors that concern only the connection being accepted (`ECONNABORTED`)
    /// throw like the rest; running out of descriptors is `EMFILE`/`ENFILE`.
    public func accept() throws(SystemError) -> IOResult<AcceptedSocket> {
        switch try SocketCalls.accept(fd) {
        case let .done((accepted, peer)): return .done(AcceptedSocket(socket: SocketHandle(adopting: accepted), peer: peer))
        case .wouldBlock: return .wouldBlock
        }
    }

    // MARK: I/O (the daemon's hot path: inlinable into the caller's module)

    /// Reads what is there without waiting. `.done(0)` is end of file (the buffer
    /// must not be empty); `.wouldBlock`: nothing yet.
    @inlinable
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try SocketCalls.read(fd, into: buffer)
    }

    /// Sends what fits without waiting; never raises `SIGPIPE` (a closed peer is `EPIPE`).
    @inlinable
    public func send(_ bytes: UnsafeRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try SocketCalls.send(fd, bytes)
    }

    /// Sends the iovecs in order, what fits without waiting: `send` for one piece,
    /// `sendmsg` for several, both with `MSG_NOSIGNAL` (see ``SocketCalls``).
    @inlinable
    public func send(pieces vectors: UnsafeBufferPointer<iovec>) throws(SystemError) -> IOResult<Int> {
        try SocketCalls.send(fd, pieces: vectors)
    }

    // MARK: Options and shutdown

    /// Turns Nagle's algorithm off (`TCP_NODELAY`): small frames go out at once.
    public func setNoDelay() throws(SystemError) {
        try SocketCalls.setOption(fd, level: Int32(IPPROTO_TCP), option: TCP_NODELAY, to: 1, name: "setsockopt(TCP_NODELAY)")
    }

    /// `TCP_NODELAY`, and keepalive probing after `keepaliveSeconds` idle (0 = off).
    /// Best effort: failures only make the connection less responsive, so they are ignored.
    public func configureConnection(keepaliveSeconds: Int) {
        SocketCalls.configureConnection(fd, keepaliveSeconds: keepaliveSeconds)
    }

    /// On a listening socket: the options every connection it accepts then starts with
    /// (Linux copies a listener's socket options to the connections it accepts):
    /// `TCP_NODELAY`, and keepalive as ``configureConnection(keepaliveSeconds:)`` sets it,
    /// or off with 0. Call again to change what later connections get.
    public func configureListener(keepaliveSeconds: Int) {
        SocketCalls.configureListener(fd, keepaliveSeconds: keepaliveSeconds)
    }

    /// Sets an integer socket option (`SOL_SOCKET`/`SO_REUSEADDR`, `IPPROTO_TCP`/...);
    /// `name` names it in the error.
    public func setOption(level: Int32, option: Int32, to value: Int32, name: String = "setsockopt") throws(SystemError) {
        try SocketCalls.setOption(fd, level: level, option: option, to: value, name: name)
    }

    /// Reads an integer socket option; `name` names it in the error.
    public func option(level: Int32, option: Int32, name: String = "getsockopt") throws(SystemError) -> Int32 {
        try SocketCalls.option(fd, level: level, option: option, name: name)
    }

    /// Which directions ``shutdown(_:)`` closes. A value.
    public enum Direction: Sendable {
        case reading, writing, both
    }

    /// Shuts directions down; the descriptor stays open until the handle goes.
    /// A read blocked on this socket in another thread then returns end of file.
    /// Throws `ENOTCONN` for a socket that is not (or no longer) connected.
    public func shutdown(_ direction: Direction = .both) throws(SystemError) {
        let how: Int32 = switch direction {
        case .reading: Int32(SHUT_RD)
        case .writing: Int32(SHUT_WR)
        case .both: Int32(SHUT_RDWR)
        }
        try SocketCalls.shutdown(fd, how)
    }
}

/// A connection taken from a listening socket: its handle and the peer's address.
/// `~Copyable` because it owns the handle; take `socket` out of it to keep it
/// (`@frozen` so that other modules may). Belongs to whoever accepted it.
/// (A struct rather than a `(SocketHandle, SocketAddress)` tuple: Swift 6.3 has
/// no tuples with a `~Copyable` element.)
@frozen
public struct AcceptedSocket: ~Copyable, Sendable {
    /// The connection, non-blocking and close-on-exec.
    public let socket: SocketHandle
    /// The peer's address.
    public let peer: SocketAddress

    public init(socket: consuming SocketHandle, peer: SocketAddress) {
        self.socket = socket
        self.peer = peer
    }
}
