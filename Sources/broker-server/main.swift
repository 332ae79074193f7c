// broker-server: parse the configuration, start the server, turn signals into reload and shutdown.
import Posix
import Broker
import Glibc

ProcessSetup.ignoreSIGPIPE()

func fail(_ message: String, exitCode: Int32) -> Never {
    let line = Array("broker-server: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(exitCode)
}

let command: LaunchCommand
do {
    command = try BrokerCommandLine.parse(CommandLine.arguments.dropFirst())
} catch {
    fail(error.description, exitCode: error.exitCode)
}

switch command {
case let .help(text):
    print(text)
    exit(0)
case .version:
    print("broker-server \(BrokerVersion.current)")
    exit(0)
case let .run(config, configPath, overriddenKeys):
    // Before any thread starts: from here on SIGINT, SIGTERM and SIGHUP are events.
    let watcher: SignalWatcher
    do {
        watcher = try SignalWatcher(watching: ControlSignal.watched)
    } catch {
        fail("cannot watch signals: \(error)", exitCode: 71)
    }
    let logger = Logger(level: config.logLevel)
    logger.info(BrokerCommandLine.configSourceLine(configPath: configPath))
    let fileLimit = ProcessSetup.raiseOpenFileLimit()
    logger.info("open file limit \(fileLimit)")
    let server: BrokerServer
    let address: SocketAddress
    let metricsAddress: SocketAddress?
    let httpsAddress: SocketAddress?
    do {
        server = try BrokerServer(config: config, logger: logger)
        address = try server.start()
        metricsAddress = try server.startMetrics()
        httpsAddress = try server.startSecureHTTP()
    } catch {
        if case .cannotListen = error { fail(error.description, exitCode: 69) }
        if case let .configuration(configError) = error { fail(configError.description, exitCode: configError.exitCode) }
        if case .conflict = error { fail(error.description, exitCode: ConfigError.exitConfig) }
        fail(error.description, exitCode: 71)
    }
    // The readiness line: exactly this, on stdout, in one write (stdout carries nothing else);
    // `tls listening on` follows (or, with plaintext off, comes alone) for the TLS listener.
    if config.plaintext {
        let ready = Array("listening on \(address)\n".utf8)
        _ = ready.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        logger.info("listening on \(address) with \(server.eventLoopCount) event loop(s)")
    }
    if let tlsAddress = server.tlsAddress {
        let ready = Array("tls listening on \(tlsAddress)\n".utf8)
        _ = ready.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        logger.info("tls listening on \(tlsAddress) with \(server.eventLoopCount) event loop(s)")
    }
    if !address.isLoopback && config.authToken.isEmpty && config.authTokenFile.isEmpty && config.aclFile.isEmpty {
        logger.warn("listening on the non-loopback address \(address) without auth_token: anyone who can reach it may publish and subscribe")
    }
    if let metricsAddress {
        // The HTTP listener's readiness lines, after the first, each in one write: `metrics
        // listening on` first while metrics_port is used (what waits for it keeps working),
        // then `http listening on`.
        var lines = ""
        if config.metricsPort != 0 { lines += "metrics listening on \(metricsAddress)\n" }
        lines += "http listening on \(metricsAddress)\n"
        for line in lines.split(separator: "\n") {
            let bytes = Array((line + "\n").utf8)
            _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            logger.info(String(line))
        }
    }
    if let httpsAddress {
        let ready = Array("https listening on \(httpsAddress)\n".utf8)
        _ = ready.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        logger.info("https listening on \(httpsAddress)")
    }

    let signals = try? spawnSignalThread(watcher: watcher, server: server, logger: logger,
                                         config: config, configPath: configPath, overriddenKeys: overriddenKeys)
    if signals == nil { logger.warn("signals are not handled: no thread for them") }
    server.wait()
    logger.info("shut down")
    exit(0)
}
