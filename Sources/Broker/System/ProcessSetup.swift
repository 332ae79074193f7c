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

    /// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (and threads it
    /// starts afterwards), so that they are only received through `SignalWatcher`.
    public static func blockControlSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGHUP)
        _ = pthread_sigmask(SIG_BLOCK, &set, nil)
    }
}

/// The control signals the daemon reacts to.
public enum ControlSignal: Sendable, Equatable {
    /// SIGINT or SIGTERM: shut down gracefully (a second one: at once).
    case shutdown(signal: Int32)
    /// SIGHUP: reload the configuration file.
    case reload
}

/// Turns blocked control signals into values, read from a signalfd. The signals
/// must be blocked first (``ProcessSetup/blockControlSignals()``).
public final class SignalWatcher {
    private let fd: Int32

    public init() throws(SystemError) {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGHUP)
        fd = try retryingEINTR("signalfd") { signalfd(-1, &set, Int32(SFD_CLOEXEC)) }
    }

    deinit { _ = Glibc.close(fd) }

    /// Blocks until the next control signal arrives.
    public func next() throws(SystemError) -> ControlSignal {
        var info = signalfd_siginfo()
        while true {
            let count = try retryingEINTR("read(signalfd)") {
                Glibc.read(fd, &info, MemoryLayout<signalfd_siginfo>.size)
            }
            guard count == MemoryLayout<signalfd_siginfo>.size else { continue }
            let number = Int32(info.ssi_signo)
            if number == SIGHUP { return .reload }
            return .shutdown(signal: number)
        }
    }
}
