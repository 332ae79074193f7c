// An owned file descriptor: the only place in the layer that closes one.
import Glibc

/// One open file descriptor with exactly one owner, closed in `deinit`.
///
/// `~Copyable`, so it cannot be closed twice or used after close: whoever holds
/// it owns the descriptor; moving it (to another thread too: `Sendable`) moves
/// the ownership. The descriptor's calls are kernel calls, safe from any thread
/// that can borrow it, but reads (or writes) from two threads at once interleave.
/// ``SocketHandle``, ``Epoll``, ``EventFD`` and ``SignalWatcher`` hold one.
@usableFromInline
struct FileDescriptor: ~Copyable, Sendable {
    /// The descriptor number; valid for as long as this value lives.
    @usableFromInline
    let rawValue: Int32

    /// Takes ownership of `rawValue`, which must be open and owned by no one else.
    @usableFromInline
    init(adopting rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// Closes the descriptor. `close` does not go through the funnel: on Linux the
    /// descriptor is released even when `close` fails (EINTR included), so there is
    /// nothing to retry and nothing the owner could do about an error.
    deinit { _ = Glibc.close(rawValue) }

    /// Gives up ownership without closing; the caller must close the number.
    @usableFromInline
    consuming func release() -> Int32 {
        let rawValue = self.rawValue
        discard self
        return rawValue
    }

    /// Reads without waiting on a non-blocking descriptor (`.done(0)`: end of file).
    func read(into buffer: UnsafeMutableRawBufferPointer, call: String = "read") throws(SystemError) -> IOResult<Int> {
        try Syscall.nonBlocking(call) { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
    }

    /// Writes without waiting on a non-blocking descriptor.
    func write(_ bytes: UnsafeRawBufferPointer, call: String = "write") throws(SystemError) -> IOResult<Int> {
        try Syscall.nonBlocking(call) { Glibc.write(rawValue, bytes.baseAddress, bytes.count) }
    }
}
