// broker-cli over the broker's WebSocket (`ws://host:port/ws`), against the real daemon.
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The daemon with its HTTP port, and the `ws://` address of its WebSocket.
private func webSocketServer(_ extra: [String] = []) throws -> (Server, String) {
    let server = try Server(port: 0, ["--http-port", String(try freeLoopbackPort())] + extra)
    guard let line = server.child.stdout.waitForLine(containing: "http listening on "),
          let colon = line.lastIndex(of: ":"), let port = UInt16(line[line.index(after: colon)...]) else {
        throw E2EFailure("no 'http listening on' line")
    }
    return (server, "ws://127.0.0.1:\(port)/ws")
}

@Suite(.serialized, .enabled(if: Binaries.daemonTestsEnabled, "needs broker-server; set CI=true to make its absence fail"))
struct CLIOverWebSocket {
    @Test func pubAndSubOverWebSocketMeetSubscribersAndPublishersOnTCP() throws {
        let (server, address) = try webSocketServer()
        let viaWebSocket = try Child.cli(["sub", "-v", "w.t", "--count", "3", "--server", address])
        #expect(viaWebSocket.stderr.waitForLine(containing: "subscribed to w.t on \(address)") != nil)
        let viaTCP = try subscriber(port: server.port, ["w.t", "--count", "3"])
        // A payload larger than one client message (4 KiB): the line crosses several messages.
        let large = String(repeating: "0123456789", count: 5_000)
        #expect(try runCLI(["pub", "w.t", "small", "--server", address]).status == 0)
        #expect(try runCLI(["pub", "w.t", large, "--server", address]).status == 0)
        #expect(try runCLI(["pub", "w.t", "from tcp"] + server.portArguments).status == 0)
        #expect(viaWebSocket.waitForExit() == 0)
        #expect(viaTCP.waitForExit() == 0)
        #expect(viaWebSocket.stdout.waitForEnd() == ["w.t small", "w.t \(large)", "w.t from tcp"])
        #expect(viaTCP.stdout.waitForEnd() == ["small", large, "from tcp"])
    }

    @Test(arguments: ["1", "2"])
    func benchOverWebSocketAccountsForEveryMessage(protocolVersion: String) throws {
        let (server, address) = try webSocketServer()
        defer { withExtendedLifetime(server) {} }
        let bench = try runCLI(["bench", "--subs", "3", "--msgs", "20000", "--protocol", protocolVersion, "--server", address])
        #expect(bench.status == 0, "\(bench.err)")
        #expect(bench.out.contains { $0.hasPrefix("delivered:") && $0.contains("60000 received") }, "\(bench.out)")
    }

    @Test func aPathThatIsNotTheWebSocketIsNamedInTheFailure() throws {
        let (server, address) = try webSocketServer()
        defer { withExtendedLifetime(server) {} }
        let wrong = address.replacingOccurrences(of: "/ws", with: "/nope")
        let ping = try runCLI(["ping", "--server", wrong])
        #expect(ping.status == 1)
        #expect(ping.err.contains { $0.contains("cannot connect to \(wrong): no WebSocket upgrade: HTTP/1.1 404") }, "\(ping.err)")
        let viaEnvironment = try runCLI(["ping"], environment: ["BROKER_ADDR": address])
        #expect(viaEnvironment.status == 0)
        #expect(viaEnvironment.out.first?.hasPrefix("PONG from \(address)") == true, "\(viaEnvironment.out)")
    }
}
