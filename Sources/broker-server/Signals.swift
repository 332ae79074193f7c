// The signal thread: SIGHUP reloads the configuration, SIGINT/SIGTERM shut down (twice: at once).
import Posix
import Broker
import Foundation
import Glibc
import Synchronization

/// Starts the thread that turns control signals into server actions.
func spawnSignalThread(
    watcher: SignalWatcher, server: BrokerServer, logger: Logger,
    config: BrokerConfig, configPath: String?, overriddenKeys: Set<String>
) throws -> Thread {
    let state = SignalState(watcher: watcher, config: config)
    let thread = Thread {
        var current = state.config
        var shuttingDown = false
        while true {
            let signal: ControlSignal
            do {
                signal = ControlSignal(signal: try state.watcher.next())
            } catch {
                logger.error("signal watcher: \(error)")
                return
            }
            switch signal {
            case .reload:
                let outcome = BrokerConfig.reload(current: current, configPath: configPath, overriddenKeys: overriddenKeys)
                if case let .applied(newConfig, _) = outcome {
                    do throws(ConfigError) {
                        try server.apply(newConfig)
                        current = newConfig
                        logger.info(outcome.logLine)
                    } catch {
                        logger.error(ReloadOutcome.rejected(error).logLine)
                    }
                } else {
                    logger.error(outcome.logLine)
                }
            case let .shutdown(number):
                if shuttingDown {
                    logger.warn("second signal \(number): exiting at once")
                    _exit(1)
                }
                shuttingDown = true
                logger.info("signal \(number): shutting down (grace \(current.shutdownGraceMs) ms)")
                server.shutdown(graceMs: current.shutdownGraceMs)
            }
        }
    }
    thread.start()
    return thread
}

/// What the signal thread starts with.
final class SignalState: @unchecked Sendable {
    // @unchecked Sendable: created before the thread starts and only read by it.
    let watcher: SignalWatcher
    let config: BrokerConfig
    init(watcher: SignalWatcher, config: BrokerConfig) {
        self.watcher = watcher
        self.config = config
    }
}
