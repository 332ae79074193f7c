// SIGHUP for the keys added by the extensions: auth_token, auth_token_file, stats_interval_ms.
import Broker
import Foundation
import Glibc
import Testing

@Suite struct ReloadExtensionKeysTests {
    @Test func authTokenReloadsLiveForNewConnections() throws {
        let (broker, file) = try BrokerProcess.start(config: baseConfig)
        let before = try broker.connect()
        // A reply proves the broker has taken the connection in before the reload: a
        // connection still in the accept queue would be registered under the new token.
        #expect(try before.request("PING") == "PONG")
        try file.write(baseConfig + ["auth_token n3w"])
        #expect(try broker.reload().contains("configuration reloaded (changed: auth_token)"))
        let client = try broker.connect()
        #expect(try client.request("PING").hasPrefix("ERR auth-required "))
        #expect(try client.request("AUTH n3w") == "OK")
        #expect(try before.request("PING") == "PONG")  // an open connection keeps its state
        #expect(!broker.stderr.lines.contains { $0.contains("n3w") })  // the token is never logged
    }

    @Test func authTokenFileIsReadAgainAtReloadAndAnUnreadableOneIsRejected() throws {
        let tokenPath = NSTemporaryDirectory() + "broker-token-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try "first-token\n".write(toFile: tokenPath, atomically: true, encoding: .utf8)
        defer { unlink(tokenPath) }
        let (broker, file) = try BrokerProcess.start(config: baseConfig + ["auth_token_file \(tokenPath)"])
        #expect(try broker.connect().request("AUTH first-token") == "OK")
        try "second-token\n".write(toFile: tokenPath, atomically: true, encoding: .utf8)
        #expect(try broker.reload().contains("configuration reloaded"))
        let client = try broker.connect()
        #expect(try client.request("AUTH second-token") == "OK")
        try file.write(baseConfig + ["auth_token_file \(tokenPath)-missing"])
        #expect(try broker.reload().contains("reload rejected: "))
        #expect(try broker.connect().request("AUTH second-token") == "OK")  // the old token stays
        #expect(!broker.stderr.lines.contains { $0.contains("second-token") || $0.contains("first-token") })
    }

    @Test func statsIntervalReloadsLive() throws {
        let (broker, file) = try BrokerProcess.start(config: baseConfig + ["stats_interval_ms 0"])
        let watcher = try broker.connect()
        #expect(try watcher.request("SUB $SYS.stats") == "OK")
        try file.write(baseConfig + ["stats_interval_ms 50"])
        #expect(try broker.reload().contains("configuration reloaded (changed: stats_interval_ms)"))
        try watcher.expectLine(startingWith: "MSG $SYS.stats uptime_s=")
        try watcher.expectLine(startingWith: "MSG $SYS.stats uptime_s=")
    }

    @Test func listeningBeyondLoopbackWithoutATokenIsWarned() throws {
        let broker = try BrokerProcess(arguments: ["--port", "0", "--host", "0.0.0.0", "--config", "/dev/null"])
        _ = try broker.stdout.waitForLine(containing: "listening on 0.0.0.0:")
        _ = try broker.stderr.waitForLine(containing: "without auth_token")
        broker.signal(SIGTERM)
        #expect(try broker.waitForExit() == 0)
    }
}
