// Starts a BrokerServer inside the test process on an ephemeral port.
import Posix
import Broker
import Glibc

/// A broker running in the test process, on `127.0.0.1` and a port the kernel picked.
final class InProcessBroker {
    let server: BrokerServer
    let port: Int
    private let logFD: Int32

    /// Starts a server with `threads = 2`, `port = 0` and the given changes; logs go to /dev/null.
    init(_ configure: (inout BrokerConfig) -> Void = { _ in }) throws {
        ProcessSetup.ignoreSIGPIPE()  // as the daemon does: a write to a gone peer is EPIPE
        var config = BrokerConfig()
        config.host = "127.0.0.1"
        config.port = 0
        config.threads = 2
        configure(&config)
        logFD = open("/dev/null", O_WRONLY | O_CLOEXEC)
        server = try BrokerServer(config: config, logger: Logger(level: .error, descriptor: logFD))
        port = try server.start().port
    }

    /// Shuts the server down at once and waits for its threads.
    func stop() {
        server.shutdown(graceMs: 0)
        server.wait()
        Glibc.close(logFD)
    }

    /// A new client connected to this broker.
    func connect(receiveBuffer: Int32? = nil) throws -> TestClient {
        try TestClient(port: port, receiveBuffer: receiveBuffer)
    }
}

/// Runs `body` against a fresh in-process broker, stopping it afterwards.
func withBroker<T>(_ configure: (inout BrokerConfig) -> Void = { _ in },
                   _ body: (InProcessBroker) throws -> T) throws -> T {
    let broker = try InProcessBroker(configure)
    defer { broker.stop() }
    return try body(broker)
}
