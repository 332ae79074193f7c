// Process-wide setup: ignore SIGPIPE, raise the open-file limit.
import CBrokerShim
import Glibc

/// Process-wide settings a program that owns its process (the daemon) makes once
/// at startup, on the main thread. A library must not: they change the whole process.
public enum ProcessSetup {
    /// Ignores SIGPIPE, so a write to a closed peer is an EPIPE error, never a crash
    /// (the layer's sends use `MSG_NOSIGNAL` anyway; this covers every other write).
    public static func ignoreSIGPIPE() {
        _ = signal(SIGPIPE, SIG_IGN)
    }

    /// Raises the soft RLIMIT_NOFILE to the hard limit; returns the resulting soft
    /// limit (1024 when the limit cannot be read).
    @discardableResult
    public static func raiseOpenFileLimit() -> Int {
        let resource = Int32(RLIMIT_NOFILE.rawValue)
        var limit = rlimit()
        guard (try? Syscall.blocking("getrlimit", { getrlimit(resource, &limit) })) != nil else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if (try? Syscall.blocking("setrlimit", { setrlimit(resource, &raised) })) != nil { limit = raised }
        }
        return limit.rlim_cur > rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
    }
}
