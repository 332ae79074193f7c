// A tiny in-process stand-in that answers each line with scripted bytes: library tests without the daemon.
import Foundation
import Locks
#if canImport(Glibc)
import Glibc
#endif

/// Listens on 127.0.0.1:<random port>, accepts one connection, and writes `respond(line)`
/// for every line it reads (nil closes the connection; so does `closeAfterReply` after
/// the first reply). Lines are recorded.
///
/// Unless `scriptsHello`, it answers `HELLO ...` itself as a broker that knows only
/// version 1 does (`ERR unknown-command`), without calling `respond` and without
/// counting it as the first reply: scripts written for version 1 stay as they are.
final class ScriptedBroker: Sendable {
    let port: UInt16
    private let listener: Int32
    /// Whether the listener is still open. With `accept`, the peer's thread closes it after its one
    /// accept: if `deinit` closed it first, a test that ends before the thread runs would leave the
    /// thread to accept on the descriptor number, by then reused by another test's listener.
    private let listenerOpen = Flag()
    /// Whether the peer's thread owns the listener (it accepts one connection).
    private let accepts: Bool
    /// Every line received, in order.
    private let log = Log()
    var received: [String] { log.lines.withLock { $0 } }

    /// A flag shared with the peer's thread.
    private final class Flag: Sendable {
        let value = PthreadLock(true)
    }

    /// The lines, shared with the peer's thread.
    private final class Log: Sendable {
        let lines = PthreadLock<[String]>([])
    }

    init(accept: Bool = true, closeAfterReply: Bool = false, scriptsHello: Bool = false,
         respond: @escaping @Sendable (String) -> [UInt8]? = { _ in nil }) throws {
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        accepts = accept
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = listener
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, accept ? 16 : 0) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else { throw E2EFailure("scripted broker: bind/listen failed, errno \(errno)") }
        port = UInt16(bigEndian: address.sin_port)
        guard accept else { return }
        let log = self.log
        let listenerOpen = self.listenerOpen
        Thread {
            let connection = Glibc.accept(fd, nil, nil)
            listenerOpen.value.withLock { open in
                close(fd)
                open = false
            }
            guard connection >= 0 else { return }
            defer { close(connection) }
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { return }
                pending += buffer[0..<count]
                var out: [UInt8] = []
                var scripted = false  // a scripted reply was written (not only a HELLO refusal)
                while let lf = pending.firstIndex(of: 0x0A) {
                    let line = String(decoding: pending[..<lf], as: UTF8.self)
                    pending.removeSubrange(...lf)
                    log.lines.withLock { $0.append(line) }
                    if !scriptsHello && line.hasPrefix("HELLO ") {
                        out += Array("ERR unknown-command unknown command 'HELLO'\n".utf8)
                        continue
                    }
                    guard let reply = respond(line) else {
                        _ = out.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                        return
                    }
                    out += reply
                    scripted = true
                    if closeAfterReply { break }
                }
                var offset = 0
                while offset < out.count {
                    let sent = out.withUnsafeBytes { send(connection, $0.baseAddress.map { $0 + offset }, $0.count - offset, Int32(MSG_NOSIGNAL)) }
                    if sent < 0 { if errno == EINTR { continue } else { return } }
                    offset += sent
                }
                if closeAfterReply && scripted { return }
            }
        }.start()
    }

    /// Makes connections nobody accepts until the listen queue is full: later connects
    /// then get no answer at all (their SYN is dropped) and must time out.
    func fillListenQueue() -> [Int32] {
        (0..<4).map { _ in
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = port.bigEndian
            _ = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            return fd
        }
    }

    deinit {
        if !accepts {
            close(listener)
        } else {
            // Wakes an accept still waiting (it then fails and the thread closes the listener).
            listenerOpen.value.withLock { open in if open { _ = shutdown(listener, Int32(SHUT_RDWR)) } }
        }
    }
}
