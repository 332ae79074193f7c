// SIGINT as an event: a flag, a wake-up for waits, and the current connection shut down so a blocked read returns.
import BrokerClient
import Dispatch
import Locks
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Turns SIGINT into a flag the main loop checks; the work is done there, not in a handler.
final class Interrupt: Sendable {
    /// True once SIGINT arrived.
    private let requested = Atomic<Bool>(false)
    /// The connection a SIGINT must shut down, if any.
    private let current = PthreadLock<BrokerConnection.Canceller?>(nil)
    /// Wakes a backoff wait early.
    private let wakeUp = DispatchSemaphore(value: 0)
    /// Starts catching SIGINT (the default action is disabled). The caller keeps the
    /// returned source alive for as long as SIGINT should be caught.
    func install() -> any DispatchSourceSignal {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [self] in
            requested.store(true, ordering: .sequentiallyConsistent)
            current.withLock { $0?.cancel() }
            wakeUp.signal()
        }
        source.resume()
        return source
    }

    /// True once SIGINT arrived.
    var isRequested: Bool { requested.load(ordering: .sequentiallyConsistent) }

    /// Sets the connection to shut down on SIGINT (nil: none). If SIGINT already came, shuts it now.
    func watch(_ canceller: BrokerConnection.Canceller?) {
        current.withLock { $0 = canceller }
        if isRequested { canceller?.cancel() }
    }

    /// Waits up to `duration`; returns true if SIGINT arrived (then at once).
    func sleep(_ duration: Duration) -> Bool {
        if isRequested { return true }
        let milliseconds = Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
        _ = wakeUp.wait(timeout: .now() + .milliseconds(milliseconds))
        return isRequested
    }
}
