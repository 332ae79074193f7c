// A real redis-server for the engine's tests, and a reactor on its own thread to drive a connection.
import Dispatch
import Foundation
import Glibc
import Locks
import Posix
import RESP
import Testing
@testable import Broker

/// Whether the tests that need `redis-server` run: `scripts/ci-redis.sh` installs it and
/// sets `BROKER_REDIS_TESTS=1`. Plain `swift test` needs only the toolchain, so without
/// that variable these tests are reported as skipped, with this reason.
let redisTestsEnabled = ProcessInfo.processInfo.environment["BROKER_REDIS_TESTS"] == "1"
let redisTestsSkipReason: Comment = "needs redis-server: run scripts/ci-redis.sh (installs it, sets BROKER_REDIS_TESTS=1)"

/// A `redis-server` on a free loopback port, without persistence, stopped when released.
final class RedisServer {
    let port: Int
    private let process: Process
    private let output: LineCollector

    /// Starts one; throws when `redis-server` is missing or does not come up.
    /// `password`: the `default` user's (`requirepass`), or none.
    init(port requested: Int? = nil, password: String? = nil) throws {
        let executable = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        guard let executable else { throw ClientError("redis-server is not installed (scripts/ci-redis.sh installs it)") }
        let port = try requested ?? RedisServer.freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--daemonize", "no", "--loglevel", "notice"] + (password.map { ["--requirepass", $0] } ?? [])
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        self.port = port
        self.process = process
        output = LineCollector(pipe.fileHandleForReading)
        _ = try output.waitForLine(containing: "Ready to accept connections")
    }

    /// Kills it (SIGKILL: the test process blocks SIGTERM for its own signal handling,
    /// and a child inherits that mask) and waits for it to exit.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { stop() }

    /// A loopback port nobody listens on now (bound, read, released).
    static func freePort() throws -> Int {
        guard let any = SocketAddress(host: "127.0.0.1", port: 0) else { throw ClientError("no loopback address") }
        let listener = try SocketHandle.listen(on: any, backlog: 1)
        return try listener.localAddress().port
    }
}

/// A reactor running on its own thread, and a way to run code on it and wait for an answer.
final class ReactorThread: @unchecked Sendable {
    // @unchecked Sendable: `reactor` is set before `start` returns and used on its thread only;
    // `inbox` is behind its lock.
    private(set) var reactor: Reactor!
    /// A closure for the reactor's thread (it runs there only, so what it captures need not be Sendable).
    private struct Job: @unchecked Sendable { let run: () -> Void }
    private let inbox = PthreadLock<[Job]>([])
    private let started = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    private final class Idle: ReactorTurnDelegate {
        var hasPendingWork: Bool { false }
        func endOfTurn() {}
    }

    init() throws {
        let thread = Thread { [self] in
            do {
                let reactor = try Reactor(idlePollMicroseconds: 0)
                self.reactor = reactor
                reactor.onDoorbell = { [unowned self] in
                    for job in inbox.withLock({ jobs in defer { jobs = [] }; return jobs }) { job.run() }
                }
                started.signal()
                try reactor.run(delegate: Idle())
            } catch {
                started.signal()
            }
            finished.signal()
        }
        thread.start()
        started.wait()
        guard reactor != nil else { throw ClientError("the reactor did not start") }
    }

    /// Runs `job` on the reactor's thread (soon; returns at once).
    func post(_ job: @escaping () -> Void) {
        inbox.withLock { $0.append(Job(run: job)) }
        reactor.wake()
    }

    /// Runs `job` on the reactor's thread, which calls `done` with the answer once it has
    /// it (then or later); waits for it up to `seconds`.
    func ask<T: Sendable>(seconds: Double = 10, _ job: @escaping (_ done: @escaping (T) -> Void) -> Void) throws -> T {
        let answer = PthreadLock<T?>(nil)
        let signal = DispatchSemaphore(value: 0)
        post {
            job { value in
                answer.withLock { $0 = value }
                signal.signal()
            }
        }
        guard signal.wait(timeout: .now() + seconds) == .success, let value = answer.withLock({ $0 }) else {
            throw ClientError("no answer on the reactor within \(seconds) s")
        }
        return value
    }

    /// Stops the reactor and waits for its thread to end.
    func stop() {
        post { [reactor] in reactor?.stop() }
        _ = finished.wait(timeout: .now() + 10)
    }
}

// MARK: - A connection driven from a test

func redisBytes(_ text: String) -> [UInt8] { Array(text.utf8) }
func redisCommand(_ words: String...) -> [[UInt8]] { words.map(redisBytes) }

/// A connection on `loop` to `port`, started, and waited for until it is ready.
/// `pushes`, if given, collects every push as it arrives.
func readyConnection(on loop: ReactorThread, port: Int, events: PthreadLock<[String]>? = nil,
                     pushes: PthreadLock<[RESPValue]>? = nil) throws -> RedisConnection {
    let made: Bool = try loop.ask { done in
        let connection = RedisConnection(reactor: loop.reactor, endpoint: RedisEndpoint(host: "127.0.0.1", port: port))
        connection.onStateChange = { ready in
            events?.withLock { $0.append(ready ? "ready" : "lost") }
            if ready { done(true) }
        }
        connection.onPush = { push in
            events?.withLock { $0.append("push \(push.elements?.compactMap(\.text) ?? [])") }
            pushes?.withLock { $0.append(push) }
        }
        ConnectionHolder.shared.withLock { $0[port] = ConnectionBox(connection) }
        connection.start()
    }
    #expect(made)
    guard let connection = ConnectionHolder.shared.withLock({ $0[port]?.connection }) else { throw ClientError("no connection") }
    return connection
}

/// Connections by port, so a test can reach the one its loop made.
final class ConnectionBox: @unchecked Sendable {
    let connection: RedisConnection
    init(_ connection: RedisConnection) { self.connection = connection }
}
enum ConnectionHolder {
    static let shared = PthreadLock<[Int: ConnectionBox]>([:])
}

/// Sends `arguments` on the loop and waits for the reply.
func call(_ connection: RedisConnection, on loop: ReactorThread, _ arguments: [[UInt8]]) throws -> Result<RESPValue, RedisFailure> {
    try loop.ask { done in connection.send(arguments) { done($0) } }
}
