// Signals as values: a handler that only writes a byte to a pipe, read on an ordinary thread.
import CBrokerShim
import Glibc
import Synchronization

/// The write end of the self-pipe the signal handler writes to (-1 before a
/// ``SignalWatcher`` exists). Set once, before the handlers are installed; an
/// atomic because a handler may run on any thread (a lock-free load is
/// async-signal-safe).
private let signalPipeWriteEnd = Atomic<Int32>(-1)

/// The handler of every watched signal: writes the signal's number as one byte
/// to the self-pipe and nothing else (async-signal-safe: one `write(2)`, errno
/// preserved). Whatever thread the kernel picks to run it — including threads
/// the runtime started with the signals unblocked — the event reaches the watcher.
private func watchedSignalHandler(_ number: Int32) {
    let saved = cbroker_errno()
    var byte = UInt8(truncatingIfNeeded: number)
    _ = write(signalPipeWriteEnd.load(ordering: .relaxed), &byte, 1)
    cbroker_set_errno(saved)
}

/// Turns signals into values (the self-pipe trick): the handler only writes a
/// byte; ``next()`` reads it on an ordinary thread, where the real work is done.
///
/// Process-wide: at most one per process (a second one traps), created early,
/// before any thread starts, by a program that owns its process (the daemon).
/// ``next()`` from one thread at a time. The pipe's write end is never closed —
/// a handler may run at any moment for the rest of the process's life — and the
/// watcher is meant to live as long.
public final class SignalWatcher: Sendable {
    /// The pipe's read end (blocking).
    private let readEnd: FileDescriptor

    /// Installs the handler for each of `signals` and unblocks them (a parent may
    /// have started us with them blocked: the mask is inherited across exec).
    public init(watching signals: [Int32]) throws(SystemError) {
        var ends: [Int32] = [-1, -1]
        _ = try Syscall.blocking("pipe") { pipe(&ends) }
        readEnd = FileDescriptor(adopting: ends[0])
        let writeEnd = ends[1]
        _ = try Syscall.blocking("fcntl(F_SETFD)") { fcntl(ends[0], F_SETFD, FD_CLOEXEC) }
        _ = try Syscall.blocking("fcntl(F_SETFD)") { fcntl(writeEnd, F_SETFD, FD_CLOEXEC) }
        // A full pipe must not block the handler: with O_NONBLOCK the byte is dropped,
        // and the watcher still has plenty of unread bytes to act on.
        let flags = try Syscall.blocking("fcntl(F_GETFL)") { fcntl(writeEnd, F_GETFL) }
        _ = try Syscall.blocking("fcntl(F_SETFL)") { fcntl(writeEnd, F_SETFL, flags | O_NONBLOCK) }
        let first = signalPipeWriteEnd.compareExchange(expected: -1, desired: writeEnd, ordering: .sequentiallyConsistent).exchanged
        precondition(first, "a second SignalWatcher: there is one per process")
        for number in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { watchedSignalHandler($0) }
            action.sa_flags = Int32(SA_RESTART)
            sigemptyset(&action.sa_mask)
            _ = try Syscall.blocking("sigaction") { sigaction(number, &action, nil) }
        }
        var set = sigset_t()
        sigemptyset(&set)
        for number in signals { sigaddset(&set, number) }
        // pthread_sigmask returns its error instead of setting errno; it fails only for a bad `how`.
        _ = pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Blocks until the next watched signal arrives; returns its number.
    public func next() throws(SystemError) -> Int32 {
        var byte: UInt8 = 0
        while true {
            let count = try Syscall.blocking("read(signal pipe)") { Glibc.read(readEnd.rawValue, &byte, 1) }
            if count == 1 { return Int32(byte) }
        }
    }
}
