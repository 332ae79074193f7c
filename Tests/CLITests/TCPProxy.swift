// A TCP relay in front of the broker that a test can cut and hold: dropped connections without stopping the broker.
import Foundation
import Locks
#if canImport(Glibc)
import Glibc
#endif

/// Listens on 127.0.0.1:<random port> and relays every connection to `127.0.0.1:target`.
///
/// - ``cut()`` shuts every relayed connection down, both sides: the client sees the
///   broker close, the broker sees the client go.
/// - ``hold()`` stops accepting: new connections wait in the listen queue (their
///   connect succeeds, their first reply does not come) until ``release()``.
///
/// Any thread. Each relayed connection has two threads, one per direction.
final class TCPProxy: Sendable {
    let port: UInt16
    private let target: UInt16
    private let listener: Int32
    /// Descriptors of live relays (client and broker sides), whether accepting is held, and whether the proxy ended.
    private let state = PthreadLock<(fds: Set<Int32>, held: Bool, ended: Bool)>(([], false, false))
    /// Signalled by `release()` and `deinit` to wake an acceptor waiting for the hold to end.
    private let gate = DispatchSemaphore(value: 0)

    init(to target: UInt16) throws {
        self.target = target
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = TCPProxy.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = listener
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else { throw E2EFailure("proxy: bind/listen failed, errno \(errno)") }
        port = UInt16(bigEndian: address.sin_port)
        // The thread holds what it needs, not the proxy, so the proxy's deinit ends it.
        let (state, gate, target) = (self.state, self.gate, self.target)
        Thread { TCPProxy.acceptLoop(listener: fd, target: target, state: state, gate: gate) }.start()
    }

    /// Shuts every relayed connection down (both directions, both sides).
    func cut() {
        state.withLock { state in
            for fd in state.fds { _ = shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    /// New connections wait, unaccepted, until ``release()``.
    func hold() { state.withLock { $0.held = true } }

    /// Accepts again, the waiting connections first.
    func release() {
        state.withLock { $0.held = false }
        gate.signal()
    }

    deinit {
        state.withLock { $0.ended = true }
        cut()
        _ = shutdown(listener, Int32(SHUT_RDWR))
        gate.signal()
    }

    private static func acceptLoop(listener: Int32, target: UInt16,
                                   state: PthreadLock<(fds: Set<Int32>, held: Bool, ended: Bool)>, gate: DispatchSemaphore) {
        defer { close(listener) }
        while true {
            let (held, ended) = state.withLock { ($0.held, $0.ended) }
            if ended { return }
            if held {
                gate.wait()
                continue
            }
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = TCPProxy.loopback(port: target)
            let connected = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            guard connected else {
                close(client)
                close(upstream)
                continue
            }
            state.withLock { $0.fds.formUnion([client, upstream]) }
            let finished = DispatchSemaphore(value: 0)
            for (from, to) in [(client, upstream), (upstream, client)] {
                Thread {
                    TCPProxy.pump(from: from, to: to)
                    finished.signal()
                }.start()
            }
            Thread {
                finished.wait()
                finished.wait()
                state.withLock { $0.fds.subtract([client, upstream]) }
                close(client)
                close(upstream)
            }.start()
        }
    }

    /// Copies bytes one way until end of file or an error, then shuts both sides of that direction.
    private static func pump(from: Int32, to: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        loop: while true {
            let count = buffer.withUnsafeMutableBytes { recv(from, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            var offset = 0
            while offset < count {
                let sent = buffer.withUnsafeBytes { send(to, $0.baseAddress.map { $0 + offset }, count - offset, Int32(MSG_NOSIGNAL)) }
                if sent < 0 {
                    if errno == EINTR { continue }
                    break loop
                }
                offset += sent
            }
        }
        _ = shutdown(from, Int32(SHUT_RD))
        _ = shutdown(to, Int32(SHUT_WR))
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        return address
    }
}
