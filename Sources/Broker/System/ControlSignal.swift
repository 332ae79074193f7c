// What each signal means to the daemon: SIGINT/SIGTERM shut down, SIGHUP reloads.
import Glibc
import Posix

/// The control signals the daemon reacts to. A value.
public enum ControlSignal: Sendable, Equatable {
    /// SIGINT or SIGTERM: shut down gracefully (a second one: at once).
    case shutdown(signal: Int32)
    /// SIGHUP: reload the configuration file.
    case reload

    /// The signals to give a ``SignalWatcher``.
    public static let watched: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// The meaning of a watched signal.
    public init(signal number: Int32) {
        self = number == SIGHUP ? .reload : .shutdown(signal: number)
    }
}
