// The one-off writes made just before a socket is dropped, and when accepting must wait.
import Glibc
import Posix
import Protocol

extension SocketHandle {
    /// Writes what the socket takes of `bytes` at once, ignoring failures: for
    /// the last frame before the socket is dropped (`BYE`, an HTTP refusal), when
    /// nobody can act on an error. Never blocks.
    func sendFinalFrame(_ bytes: [UInt8]) {
        // A copy, as a borrowed noncopyable `self` cannot be captured by `withUnsafeBytes`'s closure.
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        defer { raw.deallocate() }
        raw.copyBytes(from: bytes)
        _ = try? send(UnsafeRawBufferPointer(raw))
    }

    /// Writes `BYE <code> <text>` as the socket's last frame (best effort).
    func sayBye(_ code: ErrorCode, _ text: String) {
        var bye: [UInt8] = []
        WireEncoder.appendBye(code, text, to: &bye)
        sendFinalFrame(bye)
    }
}

extension SystemError {
    /// True for an `accept` that failed because the process or the system ran out
    /// of descriptors or memory: accepting again at once would only fail again.
    var isResourceExhaustion: Bool {
        errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM
    }
}
