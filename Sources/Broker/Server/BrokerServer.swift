// The server: binds the listening socket and runs the event-loop threads.
import Channels
import Posix
import Dispatch
import Glibc
import Locks
import Protocol
import Synchronization

/// The broker's version, printed by `--version` and reported in STATS.
public enum BrokerVersion {
    public static let current = "0.1.0"
}

/// Why the server could not start.
public enum ServerError: Error, CustomStringConvertible {
    /// `host` is not an IPv4 or IPv6 address literal.
    case badHost(String)
    /// The address could not be bound or listened on.
    case cannotListen(address: String, SystemError)
    /// A loop's epoll, eventfd or thread could not be created.
    case system(SystemError)
    /// The configuration cannot be used (an unreadable `auth_token_file`).
    case configuration(ConfigError)
    /// Two keys that name one thing disagree (`http_port` and `metrics_port`).
    case conflict(String)

    public var description: String {
        switch self {
        case let .badHost(host): "cannot listen on \(host): not an IPv4 or IPv6 address"
        case let .cannotListen(address, error): "cannot listen on \(address): \(error.reason)"
        case let .system(error): "cannot start: \(error)"
        case let .configuration(error): error.description
        case let .conflict(text): text
        }
    }
}

/// A running broker: `threads` event loops serving one listening socket.
///
/// Lifecycle: ``start()`` once, then ``apply(_:)`` any number of times (a
/// reload), ``shutdown(graceMs:)`` once, and ``wait()`` until every loop has
/// ended. Any thread.
public final class BrokerServer: Sendable {
    private let config: BrokerConfig
    let context: ServerContext
    /// The event loops (internal for the lifetime tests).
    let loops: [BrokerLoop]
    private let threads = PthreadLock<[pthread_t]>([])
    /// The metrics endpoint's address, once ``startMetrics()`` has started it.
    private let metricsAddress = PthreadLock<SocketAddress?>(nil)
    /// The TLS line-protocol listener's address, once ``start()`` bound it.
    private let secureAddress = PthreadLock<SocketAddress?>(nil)
    /// The HTTPS listener's address, once ``startSecureHTTP()`` started it.
    private let secureHTTPAddress = PthreadLock<SocketAddress?>(nil)
    /// The live settings every loop follows (a watch: the latest value counts).
    private let settingsWatch: WatchSender<LiveSettings>
    /// The shutdown deadline (monotonic ms), nil while running.
    private let shutdownWatch: WatchSender<Int64?>

    public init(config: BrokerConfig, logger: Logger) throws(ServerError) {
        self.config = config
        let settings: LiveSettings
        do {
            settings = LiveSettings(config, authToken: try AuthToken.resolve(config), tlsContext: try TLSSettings.load(config),
                                    accessList: try AccessListParser.load(config))
        } catch {
            throw .configuration(error)
        }
        try BrokerServer.checkListeners(config, tlsConfigured: settings.tls.context != nil)
        let engine: RedisEndpoint?
        do {
            engine = try EngineEndpoint.resolve(config)
        } catch {
            throw .configuration(error)
        }
        context = ServerContext(settings: settings, logger: logger, engineReachable: engine == nil)
        if engine != nil && config.threads > 1 {
            logger.info("engine \(config.engine): one event loop (threads \(config.threads) does not apply to this engine)")
        }
        let (settingsWatch, settingsReceiver) = Watch.channel(initial: settings)
        let (shutdownWatch, shutdownReceiver) = Watch.channel(initial: Int64?.none)
        self.settingsWatch = settingsWatch
        self.shutdownWatch = shutdownWatch
        var loops: [BrokerLoop] = []
        do throws(SystemError) {
            for index in 0..<(engine == nil ? max(1, config.threads) : 1) {
                // Each loop gets its own receivers: a watch receiver tracks what it has seen.
                let watches = LoopWatches(settings: index == 0 ? settingsReceiver : settingsWatch.subscribe(),
                                          shutdown: index == 0 ? shutdownReceiver : shutdownWatch.subscribe())
                loops.append(try BrokerLoop(index: index, context: context, watches: watches, engine: engine))
            }
        } catch {
            throw .system(error)
        }
        self.loops = loops
    }

    /// The listeners the configuration asks for can be opened: TLS ones have credentials, and
    /// with `plaintext off` at least one TLS listener is left.
    static func checkListeners(_ config: BrokerConfig, tlsConfigured: Bool) throws(ServerError) {
        if !tlsConfigured {
            if config.tlsPort != 0 { throw .conflict("tls_port \(config.tlsPort) needs tls_cert_file and tls_key_file") }
            if config.httpsPort != 0 { throw .conflict("https_port \(config.httpsPort) needs tls_cert_file and tls_key_file") }
        }
        if !config.plaintext && config.tlsPort == 0 && config.httpsPort == 0 {
            throw .conflict("plaintext off leaves no listener: set tls_port or https_port")
        }
    }

    /// Binds the line-protocol listeners (`host:port` unless `plaintext off`, and `host:tls_port`
    /// when set), starts the loops, and returns the address bound: the plaintext one, or with
    /// `plaintext off` the TLS one (``tlsAddress``).
    public func start() throws(ServerError) -> SocketAddress {
        var plaintextAddress: SocketAddress?
        if config.plaintext {
            plaintextAddress = try bindLineListener(port: config.port, secure: false)
        }
        if config.tlsPort != 0 {
            let bound = try bindLineListener(port: config.tlsPort, secure: true)
            secureAddress.withLock { $0 = bound }
        }
        var started: [pthread_t] = []
        for loop in loops {
            do {
                started.append(try spawnThread(name: "loop-\(loop.index)") { loop.run() })
            } catch {
                throw .system(error)
            }
        }
        threads.withLock { $0 = started }
        guard let bound = plaintextAddress ?? tlsAddress else {
            throw .conflict("plaintext off leaves no line-protocol listener: set tls_port")
        }
        return bound
    }

    /// The TLS line-protocol listener's address, once ``start()`` bound it (`tls_port`).
    public var tlsAddress: SocketAddress? { secureAddress.withLock { $0 } }

    /// Binds a line-protocol listener on loop 0 (before the loops start).
    private func bindLineListener(port: Int, secure: Bool) throws(ServerError) -> SocketAddress {
        guard let address = SocketAddress(host: config.host, port: port) else { throw .badHost(config.host) }
        do {
            let listener = try SocketHandle.listen(on: address)
            let bound = try listener.localAddress()
            try loops[0].listen(on: listener, spreadingOver: loops.map(\.mailbox), secure: secure)
            return bound
        } catch {
            throw .cannotListen(address: address.description, error)
        }
    }

    /// Starts the metrics HTTP server on `host:metrics_port` on its own thread and
    /// returns the address bound, or nil when `metrics_port` is 0 (off) or `plaintext off`.
    public func startMetrics() throws(ServerError) -> SocketAddress? {
        guard config.plaintext else { return nil }
        if config.httpPort != 0, config.metricsPort != 0, config.httpPort != config.metricsPort {
            throw .conflict("http_port \(config.httpPort) and metrics_port \(config.metricsPort) name one HTTP listener: set one, or both to the same port")
        }
        guard config.httpListenerPort != 0 else { return nil }
        return try startMetrics(port: config.httpListenerPort)
    }

    /// Starts the metrics endpoint on `port` (0 picks a free one), served by
    /// loop 0; `requestDeadlineMs` is how long a client has to send its request
    /// head. A second call returns the address of the endpoint already running.
    func startMetrics(port: Int, requestDeadlineMs: Int = 5000) throws(ServerError) -> SocketAddress {
        if let running = metricsAddress.withLock({ $0 }) { return running }
        let bound = try bindHTTPListener(port: port, requestDeadlineMs: requestDeadlineMs, secure: false)
        metricsAddress.withLock { $0 = bound }
        return bound
    }

    /// Starts the HTTPS listener on `host:https_port` (served by loop 0, as the HTTP one) and
    /// returns the address bound, or nil when `https_port` is 0 (off).
    public func startSecureHTTP() throws(ServerError) -> SocketAddress? {
        guard config.httpsPort != 0 else { return nil }
        return try startSecureHTTP(port: config.httpsPort)
    }

    /// Starts the HTTPS listener on `port` (0 picks a free one). A second call returns the
    /// address of the listener already running.
    func startSecureHTTP(port: Int, requestDeadlineMs: Int = 5000) throws(ServerError) -> SocketAddress {
        if let running = secureHTTPAddress.withLock({ $0 }) { return running }
        let bound = try bindHTTPListener(port: port, requestDeadlineMs: requestDeadlineMs, secure: true)
        secureHTTPAddress.withLock { $0 = bound }
        return bound
    }

    /// Binds an HTTP listener and hands it to loop 0.
    private func bindHTTPListener(port: Int, requestDeadlineMs: Int, secure: Bool) throws(ServerError) -> SocketAddress {
        guard let address = SocketAddress(host: config.host, port: port) else { throw .badHost(config.host) }
        let bound: SocketAddress
        let fd: Int32
        do {
            let listener = try SocketHandle.listen(on: address, backlog: 128)
            bound = try listener.localAddress()
            fd = listener.release()  // loop 0 adopts it
        } catch {
            throw .cannotListen(address: address.description, error)
        }
        // Connections that arrive before loop 0 takes the socket wait in its backlog.
        loops[0].mailbox.send(.serveMetrics(fd: fd, requestDeadlineMs: Int64(requestDeadlineMs), loops: loops.map(\.mailbox),
                                            secure: secure))
        return bound
    }

    /// Applies live settings to every loop (a configuration reload). Throws,
    /// changing nothing, when the token file cannot be read.
    public func apply(_ newConfig: BrokerConfig) throws(ConfigError) {
        let tlsContext = try TLSSettings.load(newConfig)
        if tlsContext == nil, config.tlsPort != 0 || config.httpsPort != 0 {
            throw .unusableSetting(key: "tls_cert_file", reason: "the TLS listeners are open: a reload cannot leave them without tls_cert_file and tls_key_file")
        }
        let settings = LiveSettings(newConfig, authToken: try AuthToken.resolve(newConfig), tlsContext: tlsContext,
                                    accessList: try AccessListParser.load(newConfig))
        if tlsContext != nil {
            context.logger.info("TLS: certificate \(newConfig.tlsCertFile) and its key read again; new connections use them")
        }
        context.store.update(settings.topicStore)
        context.logger.setLevel(settings.logLevel)
        settingsWatch.send(settings)
        // Each loop acknowledges on a oneshot once it has read the new settings, so when
        // this returns (and the reload is logged) every later connection gets them.
        var acknowledgements: [OneshotReceiver<Void>] = []
        for loop in loops {
            let (ack, acknowledged) = Oneshot.channel(of: Void.self)
            loop.mailbox.send(.watchesChanged(ack: ack))
            acknowledgements.append(acknowledged)
        }
        waitForAll(acknowledgements, timeoutMs: 5000)
    }

    /// How many times the loops read input in the middle of a flush phase.
    var inputPollsDuringFlush: UInt64 { context.stats.inputPollsDuringFlush.load }
    /// Turns whose deliveries were coalesced with the next turn's (for tests).
    var coalescedTurns: UInt64 { context.stats.coalescedTurns.load }

    /// How many idle waits ended with an event found while polling, before sleeping.
    var idlePollHits: UInt64 { loops.reduce(0) { $0 + $1.reactor.idlePollHits.load } }

    /// Begins a graceful shutdown: stop accepting, BYE to every client, flush
    /// for at most `graceMs`, close.
    public func shutdown(graceMs: Int) {
        let deadline = monotonicMilliseconds() + Int64(graceMs)
        shutdownWatch.send(deadline)
        for loop in loops { loop.mailbox.send(.watchesChanged(ack: nil)) }
    }

    /// Blocks until every loop has ended.
    public func wait() {
        let started = threads.withLock { threads -> [pthread_t] in
            let all = threads
            threads = []
            return all
        }
        for thread in started { _ = pthread_join(thread, nil) }
    }

    /// The event loops serving clients (`threads`, or 1 with the Redis engine).
    public var eventLoopCount: Int { loops.count }

    /// Open client connections now.
    public var connectionCount: Int { context.connectionCount.load(ordering: .relaxed) }
}

/// Blocks the calling (non-async) thread until every oneshot has a value or its
/// sender is gone (a loop that already ended), or `timeoutMs` passed in all.
func waitForAll(_ receivers: [OneshotReceiver<Void>], timeoutMs: Int) {
    let deadline = monotonicMilliseconds() + Int64(timeoutMs)
    for receiver in receivers {
        let left = max(0, Int(deadline - monotonicMilliseconds()))
        _ = try? receiver.blockingRecv(timeoutMs: left)
    }
}

/// Starts a joinable thread running `body`.
func spawnThread(name: String, _ body: @escaping @Sendable () -> Void) throws(SystemError) -> pthread_t {
    final class Box: @unchecked Sendable {
        // @unchecked Sendable: written once before the thread starts, read once by it.
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { argument in
        guard let argument else { return nil }
        let box = Unmanaged<Box>.fromOpaque(argument).takeRetainedValue()
        box.body()
        return nil
    }, box)
    guard result == 0 else {
        Unmanaged<Box>.fromOpaque(box).release()
        throw SystemError("pthread_create", errno: result)
    }
    return thread
}
