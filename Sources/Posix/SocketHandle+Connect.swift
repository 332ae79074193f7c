// Opening a TCP connection: resolve the host, then a non-blocking connect per address, waited for with poll until a deadline.
import CBrokerShim
import Glibc

/// Why ``SocketHandle/connect(to:port:timeout:)`` made no connection. A value.
public enum ConnectError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The host could not be resolved; `reason` is `getaddrinfo`'s text.
    case cannotResolve(host: String, reason: String)
    /// No address accepted: the failure of the last attempt (`ETIMEDOUT` when the
    /// time ran out, `connect: Connection timed out`).
    case cannotConnect(SystemError)

    public var description: String {
        switch self {
        case let .cannotResolve(host, reason): "cannot resolve \(host): \(reason)"
        case let .cannotConnect(error): error.description
        }
    }
}

extension SocketAddress {
    /// The addresses of `host` (a name or an IP literal) for a TCP connection to
    /// `port`, in `getaddrinfo`'s order. Any thread (it may block on DNS).
    public static func resolve(host: String, port: Int) throws(ConnectError) -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        // getaddrinfo reports its own codes, not errno: it does not go through the funnel.
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            let reason = status == EAI_SYSTEM ? SystemError.text(errno: cbroker_errno()) : String(cString: gai_strerror(status))
            throw .cannotResolve(host: host, reason: reason)
        }
        defer { freeaddrinfo(first) }
        var addresses: [SocketAddress] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            guard let address = info.pointee.ai_addr,
                  info.pointee.ai_family == AF_INET || info.pointee.ai_family == AF_INET6 else { continue }
            addresses.append(SocketAddress(address, length: info.pointee.ai_addrlen))
        }
        return addresses
    }
}

extension SocketHandle {
    /// Connects to the first address of `host` that accepts within `timeout` (the
    /// whole attempt, resolution aside), trying them in order. The socket comes
    /// back non-blocking. Any thread.
    public static func connect(to host: String, port: Int, timeout: Duration) throws(ConnectError) -> SocketHandle {
        let addresses = try SocketAddress.resolve(host: host, port: port)
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var last = SystemError("connect", errno: ECONNREFUSED)
        for address in addresses {
            do {
                return try connect(to: address, deadline: deadline)
            } catch {
                last = error
                if error.errno == ETIMEDOUT { break }
            }
        }
        throw .cannotConnect(last)
    }

    /// One attempt: a non-blocking socket, `connect`, then `poll` until it is
    /// writable or `deadline` passes (then `ETIMEDOUT`). Any thread.
    public static func connect(to address: SocketAddress, deadline: ContinuousClock.Instant) throws(SystemError) -> SocketHandle {
        var connected = false
        let socket = try startConnect(to: address, connected: &connected)
        if connected { return socket }
        guard !(try socket.poll(for: .writable, until: deadline)).isEmpty else {
            throw SystemError("connect", errno: ETIMEDOUT)
        }
        try socket.finishConnect()
        return socket
    }

    /// Begins a connection without waiting: a non-blocking socket and `connect`.
    /// `connected` is set to true when it was made at once (loopback can); otherwise
    /// wait until the socket is writable, then call ``finishConnect()``. Any thread.
    public static func startConnect(to address: SocketAddress, connected: inout Bool) throws(SystemError) -> SocketHandle {
        let socket = SocketHandle(adopting: try Syscall.blocking("socket") {
            Glibc.socket(address.family, Int32(SOCK_STREAM.rawValue) | SocketCalls.socketFlags, 0)
        })
        do {
            _ = try Syscall.blocking("connect") { address.withSockaddr { Glibc.connect(socket.fd, $0, $1) } }
            connected = true
        } catch where error.errno == EISCONN {
            connected = true  // a retry after EINTR found the connection made
        } catch where error.errno == EINPROGRESS || error.errno == EALREADY {
            connected = false  // in progress (EALREADY: a retry after EINTR found it so)
        }
        return socket
    }

    /// After a started connection's socket became writable: throws the reason it
    /// failed (`connect: Connection refused`), returns when it was made.
    public func finishConnect() throws(SystemError) {
        let failure = try option(level: SOL_SOCKET, option: SO_ERROR, name: "getsockopt(SO_ERROR)")
        if failure != 0 { throw SystemError("connect", errno: failure) }
    }
}
