// End to end with the real broker-cli binary, needing no daemon: unreachable broker, usage errors, help.
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import broker_cli

@Suite struct CLIWithoutDaemon {
    @Test(arguments: [["ping"], ["pub", "t", "hello"], ["pub", "t"], ["sub", "t"], ["bench", "--msgs", "10"]])
    func unreachableBrokerPrintsOneLineAndExits1(_ arguments: [String]) throws {
        let port = try closedPort()
        let child = try Child.cli(arguments + ["--port", String(port)])
        try? child.stdin.close()
        #expect(child.waitForExit() == 1)
        #expect(child.stderr.waitForEnd() == ["broker-cli: cannot connect to 127.0.0.1:\(port): Connection refused"])
        #expect(child.stdout.waitForEnd() == [])
    }

    @Test func brokerAddrIsUsedAndFlagsWinOverIt() throws {
        let port = try closedPort()
        let fromEnv = try Child.cli(["ping"], environment: ["BROKER_ADDR": "127.0.0.1:\(port)"])
        #expect(fromEnv.waitForExit() == 1)
        #expect(fromEnv.stderr.waitForEnd() == ["broker-cli: cannot connect to 127.0.0.1:\(port): Connection refused"])
        let other = try closedPort()
        let flagWins = try Child.cli(["ping", "--port", String(other)], environment: ["BROKER_ADDR": "127.0.0.1:\(port)"])
        #expect(flagWins.waitForExit() == 1)
        #expect(flagWins.stderr.waitForEnd() == ["broker-cli: cannot connect to 127.0.0.1:\(other): Connection refused"])
    }

    @Test func usageErrorExits64WithOneLineAndAHint() throws {
        let child = try Child.cli(["pub", "t", "m", "--x"])
        #expect(child.waitForExit() == 64)
        #expect(child.stderr.waitForEnd() == ["broker-cli: unknown option '--x'", "Run 'broker-cli help pub' for usage."])
        #expect(child.stdout.waitForEnd() == [])
    }

    @Test func missingTopicIsAUsageError() throws {
        let child = try Child.cli(["sub"])
        #expect(child.waitForExit() == 64)
        #expect(child.stderr.waitForEnd() == ["broker-cli: sub needs at least one topic or pattern", "Run 'broker-cli help sub' for usage."])
    }

    @Test(arguments: [(["--help"], nil), (["help", "pub"], Subcommand.pub), (["sub", "--help"], .sub), (["help", "bench"], .bench)] as [([String], Subcommand?)])
    func helpGoesToStdoutWithStatus0(_ arguments: [String], _ topic: Subcommand?) throws {
        let child = try Child.cli(arguments)
        #expect(child.waitForExit() == 0)
        #expect(child.stdout.waitForEnd().joined(separator: "\n") + "\n" == helpText(topic))
    }

    @Test func connectTimeoutIsReported() throws {
        let full = try ScriptedBroker(accept: false)
        let filler = full.fillListenQueue()
        defer { filler.forEach { close($0) } }
        let start = ContinuousClock.now
        let child = try Child.cli(["ping", "--port", String(full.port), "--timeout", "0.3"])
        #expect(child.waitForExit(timeout: .seconds(10)) == 1)
        #expect(start.duration(to: .now) >= .milliseconds(300))
        #expect(child.stderr.waitForEnd() == ["broker-cli: cannot connect to 127.0.0.1:\(full.port): Connection timed out"])
    }
}

@Suite struct CLIAgainstScriptedPeer {
    @Test func pingExits1WhenNoPongComesWithinTheTimeout() throws {
        let silent = try ScriptedBroker { _ in [] }
        let child = try Child.cli(["ping", "--port", String(silent.port), "--timeout", "0.2"])
        #expect(child.waitForExit() == 1)
        #expect(child.stderr.waitForEnd() == ["broker-cli: timed out waiting for the broker's reply"])
    }

    @Test func subSaysLagOnStderrAndCountsIt() throws {
        let peer = try ScriptedBroker { _ in Array("OK\nMSG t 1\nLAGGED t 7\nMSG t 2\n".utf8) }
        let child = try Child.cli(["sub", "-v", "t", "--count", "2", "--port", String(peer.port)])
        #expect(child.waitForExit() == 0)
        #expect(child.stdout.waitForEnd() == ["t 1", "t 2"])
        #expect(child.stderr.waitForEnd() == [
            "broker-cli: subscribed to t on 127.0.0.1:\(peer.port)",
            "broker-cli: lagged on t: 7 messages missed",
            "broker-cli: received 2 messages, 7 missed (lagged)",
        ])
    }

    @Test func subWithoutReconnectExits1WhenTheBrokerSaysBye() throws {
        let peer = try ScriptedBroker(closeAfterReply: true) { _ in Array("OK\nMSG t x\nBYE shutting-down going away\n".utf8) }
        let child = try Child.cli(["sub", "t", "--no-reconnect", "--port", String(peer.port)])
        #expect(child.waitForExit() == 1)
        #expect(child.stdout.waitForEnd() == ["x"])
        #expect(child.stderr.waitForEnd().last == "broker-cli: connection lost: broker closed the connection: shutting-down going away")
    }
}
