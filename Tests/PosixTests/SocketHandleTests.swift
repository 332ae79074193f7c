// SocketHandle on loopback and socket pairs: ownership, round trips, end of file, refusal, shutdown.
import Glibc
import Testing
@testable import Posix

/// A connected, non-blocking pair of Unix stream sockets (their numbers, to adopt).
private func socketPair() throws -> (Int32, Int32) {
    var ends: [Int32] = [-1, -1]
    let flags = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
    _ = try Syscall.blocking("socketpair") { socketpair(AF_UNIX, flags, 0, &ends) }
    return (ends[0], ends[1])
}

/// The inode behind a descriptor number, or the errno of `fstat` when it has none.
private func inode(of fd: Int32) -> Result<UInt, SystemError> {
    var status = stat()
    guard fstat(fd, &status) == 0 else { return .failure(SystemError("fstat", errno: errno)) }
    return .success(UInt(status.st_ino))
}

/// Reads exactly `count` bytes, waiting for readiness (with a deadline) in between.
private func readExactly(_ count: Int, from socket: borrowing SocketHandle) throws -> [UInt8] {
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    let deadline = ContinuousClock.now.advanced(by: .seconds(10))
    while received.count < count {
        let result = try buffer.withUnsafeMutableBytes { raw in try socket.read(into: raw) }
        switch result {
        case let .done(read):
            if read == 0 { return received }  // end of file
            received += buffer[0..<read]
        case .wouldBlock:
            let ready = try socket.poll(for: .readable, until: deadline)
            if ready.isEmpty { return received }  // deadline passed
        }
    }
    return received
}

/// Sends all of `bytes` (loopback and socket pair buffers take these small amounts at once).
private func send(_ bytes: [UInt8], on socket: borrowing SocketHandle) throws -> IOResult<Int> {
    try bytes.withUnsafeBytes { raw in try socket.send(raw) }
}

@Suite struct SocketHandleTests {
    @Test func aHandleClosesItsDescriptorWhenItGoes() throws {
        let (mine, peer) = try socketPair()
        let peerHandle = SocketHandle(adopting: peer)
        let socketInode = try inode(of: mine).get()
        do {
            let handle = SocketHandle(adopting: mine)
            #expect(handle.fd == mine)
        }
        // The peer sees end of file only once the last reference to the socket is closed.
        #expect(try readExactly(1, from: peerHandle) == [])
        // The number is closed — or, if another test's thread reused it meanwhile, it now
        // names a different file; either way, ours was closed.
        switch inode(of: mine) {
        case let .failure(error): #expect(error.errno == EBADF)
        case let .success(reused): #expect(reused != socketInode)
        }
    }

    @Test func releasingAHandleLeavesTheDescriptorOpen() throws {
        let (mine, peer) = try socketPair()
        let peerHandle = SocketHandle(adopting: peer)
        let released = SocketHandle(adopting: mine).release()
        #expect(released == mine)
        #expect(fcntl(mine, F_GETFD) != -1)
        #expect(try send([42], on: peerHandle) == .done(1))
        let reclaimed = SocketHandle(adopting: released)
        #expect(try readExactly(1, from: reclaimed) == [42])
    }

    @Test func bytesGoBothWaysOverLoopback() throws {
        let listener = try SocketHandle.listen(on: #require(SocketAddress(host: "127.0.0.1", port: 0)), backlog: 8)
        let address = try listener.localAddress()
        #expect(address.port != 0)
        #expect(address.isLoopback)
        #expect(try isWouldBlock(listener.accept()))  // nothing queued yet
        let client = try SocketHandle.connect(to: "127.0.0.1", port: address.port, timeout: .seconds(10))
        #expect(try !listener.poll(for: .readable, until: .now.advanced(by: .seconds(10))).isEmpty)
        guard case let .done(accepted) = try listener.accept() else {
            Issue.record("no connection to accept")
            return
        }
        #expect(accepted.peer.isLoopback)
        let server = accepted.socket
        try client.setNoDelay()
        server.configureConnection(keepaliveSeconds: 30)
        #expect(try server.option(level: SOL_SOCKET, option: SO_KEEPALIVE) == 1)

        #expect(try send(Array("PUB a hello\n".utf8), on: client) == .done(12))
        #expect(try readExactly(12, from: server) == Array("PUB a hello\n".utf8))

        // Several pieces (sendmsg) and a single one (send), read back in order.
        let pieces: [[UInt8]] = [Array("OK ".utf8), Array("1".utf8), Array("\r\n".utf8)]
        let sent = try pieces[0].withUnsafeBytes { a in
            try pieces[1].withUnsafeBytes { b in
                try pieces[2].withUnsafeBytes { c in
                    let vectors = [a, b, c].map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
                    return try vectors.withUnsafeBufferPointer { try server.send(pieces: $0) }
                }
            }
        }
        #expect(sent == .done(6))
        let single = try pieces[0].withUnsafeBytes { a in
            let vector = [iovec(iov_base: UnsafeMutableRawPointer(mutating: a.baseAddress), iov_len: a.count)]
            return try vector.withUnsafeBufferPointer { try server.send(pieces: $0) }
        }
        #expect(single == .done(3))
        #expect(try readExactly(9, from: client) == Array("OK 1\r\nOK ".utf8))

        // The server closes its side: the client reads end of file.
        try server.shutdown(.writing)
        #expect(try readExactly(1, from: client) == [])
    }

    @Test func connectingToAPortNobodyListensOnIsRefused() throws {
        // A bound socket that does not listen: its port stays ours, and a SYN to it gets a reset.
        let bound = SocketHandle(adopting: try Syscall.blocking("socket") { socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0) })
        let any = try #require(SocketAddress(host: "127.0.0.1", port: 0))
        _ = try Syscall.blocking("bind") { any.withSockaddr { bind(bound.fd, $0, $1) } }
        let port = try bound.localAddress().port
        let thrown = #expect(throws: ConnectError.self) {
            _ = try SocketHandle.connect(to: "127.0.0.1", port: port, timeout: .seconds(10))
        }
        #expect(thrown == .cannotConnect(SystemError("connect", errno: ECONNREFUSED)))
        #expect(thrown?.description == "connect: Connection refused")
    }

    @Test func aReadAfterThePeerClosedIsDoneZero() throws {
        let (mine, peer) = try socketPair()
        let handle = SocketHandle(adopting: mine)
        var buffer = [UInt8](repeating: 0, count: 16)
        #expect(try buffer.withUnsafeMutableBytes { try handle.read(into: $0) } == .wouldBlock)
        do { _ = SocketHandle(adopting: peer) }  // the peer goes
        // A process that another test spawns at this moment holds a copy of the peer until its
        // exec closes it, so the end of file is waited for, not assumed to be there at once.
        #expect(try !handle.poll(for: .readable, until: .now.advanced(by: .seconds(10))).isEmpty)
        #expect(try buffer.withUnsafeMutableBytes { try handle.read(into: $0) } == .done(0))
    }

    @Test func sendingToAClosedPeerIsEPIPENotASignal() throws {
        let (mine, peer) = try socketPair()
        let handle = SocketHandle(adopting: mine)
        do { _ = SocketHandle(adopting: peer) }
        // Wait until the peer is closed everywhere (see aReadAfterThePeerClosedIsDoneZero).
        #expect(try !handle.poll(for: .readable, until: .now.advanced(by: .seconds(10))).isEmpty)
        // Without MSG_NOSIGNAL this would kill the test process with SIGPIPE.
        #expect(throws: SystemError("send", errno: EPIPE)) { try send([1], on: handle) }
    }

    @Test func shutdownFromAnotherThreadEndsABlockedRead() async throws {
        /// The client library's pattern: a class owns the handle, so two threads can reach it.
        final class Shared: Sendable {
            let socket: SocketHandle
            init(_ socket: consuming SocketHandle) { self.socket = socket }
        }
        let (mine, peer) = try socketPair()
        let keepPeerOpen = SocketHandle(adopting: peer)
        let shared = Shared(SocketHandle(adopting: mine))
        let reader = Task.detached { () throws -> [UInt8] in
            // Blocks in poll (no deadline) until the shutdown below makes the socket readable.
            _ = try shared.socket.poll(for: .readable, until: nil)
            return try readExactly(1, from: shared.socket)
        }
        try shared.socket.shutdown(.both)
        #expect(try await reader.value == [])
        #expect(keepPeerOpen.fd >= 0)
    }

    @Test func pollTimeoutsRoundUpToWholeMilliseconds() {
        #expect(SocketHandle.milliseconds(until: nil) == -1)
        #expect(SocketHandle.milliseconds(until: .now.advanced(by: .seconds(-1))) == 0)
        let soon = SocketHandle.milliseconds(until: .now.advanced(by: .microseconds(1500)))
        #expect(soon == 1 || soon == 2)  // 1.5 ms less what elapsed, rounded up
        #expect(SocketHandle.milliseconds(until: .now.advanced(by: .seconds(1_000_000_000))) == Int32.max)
    }

    @Test func hostLiteralsResolveWithoutTheNetwork() throws {
        #expect(try SocketAddress.resolve(host: "127.0.0.1", port: 7400).map(\.description) == ["127.0.0.1:7400"])
        #expect(try SocketAddress.resolve(host: "::1", port: 7400).map(\.description) == ["[::1]:7400"])
    }

    @Test(arguments: [0, 30])
    func connectionsTakeTheListenersNoDelayAndKeepalive(keepalive: Int) throws {
        let listener = try SocketHandle.listen(on: #require(SocketAddress(host: "127.0.0.1", port: 0)), backlog: 4)
        listener.configureListener(keepaliveSeconds: 77)
        listener.configureListener(keepaliveSeconds: keepalive)  // a reload: later connections get this
        let client = try SocketHandle.connect(to: "127.0.0.1", port: try listener.localAddress().port, timeout: .seconds(10))
        #expect(try !listener.poll(for: .readable, until: .now.advanced(by: .seconds(10))).isEmpty)
        guard case let .done(accepted) = try listener.accept() else {
            Issue.record("no connection to accept")
            return
        }
        let server = accepted.socket
        #expect(try server.option(level: Int32(IPPROTO_TCP), option: TCP_NODELAY) != 0)
        #expect(try server.option(level: SOL_SOCKET, option: SO_KEEPALIVE) == (keepalive > 0 ? 1 : 0))
        if keepalive > 0 {
            #expect(try server.option(level: Int32(IPPROTO_TCP), option: TCP_KEEPIDLE) == 30)
            #expect(try server.option(level: Int32(IPPROTO_TCP), option: TCP_KEEPINTVL) == 10)
            #expect(try server.option(level: Int32(IPPROTO_TCP), option: TCP_KEEPCNT) == 3)
        }
        withExtendedLifetime(client) {}
    }
}

/// Whether `accept()` would have blocked (an accepted socket is closed on the way).
private func isWouldBlock(_ result: consuming IOResult<AcceptedSocket>) -> Bool {
    if case .wouldBlock = result { return true }
    return false
}
