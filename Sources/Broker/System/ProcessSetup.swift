// Process-wide setup: ignore SIGPIPE, raise the open-file limit, block the signals a loop handles.
import CBrokerShim
import Glibc

/// Process-wide settings the daemon makes once at startup.
public enum ProcessSetup {
    /// Ignores SIGPIPE, so a write to a closed peer is an EPIPE error, never a crash.
    public static func ignoreSIGPIPE() {
        _ = signal(SIGPIPE, SIG_IGN)
    }

    /// Raises the soft RLIMIT_NOFILE to the hard limit; returns the resulting soft limit.
    @discardableResult
    public static func raiseOpenFileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur > rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
    }
}

/// The control signals the daemon reacts to.
public enum ControlSignal: Sendable, Equatable {
    /// SIGINT or SIGTERM: shut down gracefully (a second one: at once).
    case shutdown(signal: Int32)
    /// SIGHUP: reload the configuration file.
    case reload
}

/// The write end of the self-pipe the signal handler writes to (-1 before a
/// ``SignalWatcher`` exists). Written once before the handlers are installed.
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1

/// The handler of SIGINT, SIGTERM and SIGHUP: writes the signal's number as one
/// byte to the self-pipe and nothing else (async-signal-safe: one `write(2)`,
/// errno preserved). Whatever thread the kernel picks to run it — including
/// threads the runtime started with the signals unblocked — the event reaches
/// the watcher.
private func controlSignalHandler(_ number: Int32) {
    let saved = errno
    var byte = UInt8(truncatingIfNeeded: number)
    _ = write(signalPipeWriteEnd, &byte, 1)
    errno = saved
}

/// Turns SIGINT, SIGTERM and SIGHUP into values (the self-pipe trick): the
/// handler only writes a byte; ``next()`` reads it on an ordinary thread, where
/// the daemon does the real work. Create one, early, before any thread starts.
public final class SignalWatcher {
    private let readEnd: Int32

    public init() throws(SystemError) {
        var ends: [Int32] = [-1, -1]
        _ = try retryingEINTR("pipe") { pipe(&ends) }
        readEnd = ends[0]
        _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
        // A full pipe must not block the handler: with O_NONBLOCK the byte is dropped,
        // and the watcher still has plenty of unread bytes to act on.
        _ = fcntl(ends[1], F_SETFL, fcntl(ends[1], F_GETFL) | O_NONBLOCK)
        signalPipeWriteEnd = ends[1]
        for number in [SIGINT, SIGTERM, SIGHUP] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { controlSignalHandler($0) }
            action.sa_flags = Int32(SA_RESTART)
            sigemptyset(&action.sa_mask)
            let installed: Int32 = sigaction(number, &action, nil)
            if installed != 0 { throw SystemError("sigaction", errno: cbroker_errno()) }
        }
        // A parent may have started us with these signals blocked (the mask is
        // inherited across exec): unblock them, here and in every thread started later.
        var set = sigset_t()
        sigemptyset(&set)
        for number in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, number) }
        _ = pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Blocks until the next control signal arrives.
    public func next() throws(SystemError) -> ControlSignal {
        var byte: UInt8 = 0
        while true {
            let count = try retryingEINTR("read(signal pipe)") { Glibc.read(readEnd, &byte, 1) }
            guard count == 1 else { continue }
            let number = Int32(byte)
            if number == SIGHUP { return .reload }
            return .shutdown(signal: number)
        }
    }
}
