// Launches the built broker-server executable and watches its stdout, stderr and exit.
import Foundation
import Glibc
import Locks

/// The `broker-server` executable built beside the test bundle.
func brokerServerExecutable() throws -> URL {
    var candidates: [URL] = []
    if let executable = Bundle.main.executableURL { candidates.append(executable) }
    candidates.append(Bundle.main.bundleURL)
    candidates.append(URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]))
    for candidate in candidates {
        var directory = candidate.deletingLastPathComponent()
        for _ in 0..<4 {
            let binary = directory.appendingPathComponent("broker-server")
            if FileManager.default.isExecutableFile(atPath: binary.path) { return binary }
            directory = directory.deletingLastPathComponent()
        }
    }
    throw ClientError("broker-server not found next to \(candidates.map(\.path))")
}

/// Lines read from a pipe by a background thread; waitable.
final class LineCollector: Sendable {
    private struct State {
        var lines: [String] = []
        var closed = false
    }
    private let state = PthreadLock(State())
    private let condition = NSCondition()

    /// Reads `handle` line by line until EOF, on its own thread.
    init(_ handle: FileHandle) {
        let fd = handle.fileDescriptor
        let thread = Thread { [self] in
            var pending: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                pending.append(contentsOf: chunk[0..<count])
                while let newline = pending.firstIndex(of: 0x0A) {
                    let line = String(decoding: pending[..<newline], as: UTF8.self)
                    pending.removeFirst(newline + 1)
                    append(line)
                }
            }
            condition.lock()
            state.withLock { $0.closed = true }
            condition.broadcast()
            condition.unlock()
        }
        thread.start()
    }

    private func append(_ line: String) {
        condition.lock()
        state.withLock { $0.lines.append(line) }
        condition.broadcast()
        condition.unlock()
    }

    /// Every line so far.
    var lines: [String] { state.withLock { $0.lines } }

    /// Waits for a line (at index `from` or later) containing `text`; returns its index.
    @discardableResult
    func waitForLine(containing text: String, from: Int = 0, guardSeconds: Double = Double(ioGuardSeconds)) throws -> Int {
        let deadline = Date().addingTimeInterval(guardSeconds)
        condition.lock()
        defer { condition.unlock() }
        while true {
            let (lines, closed) = state.withLock { ($0.lines, $0.closed) }
            if from < lines.count, let index = lines[from...].firstIndex(where: { $0.contains(text) }) { return index }
            if closed { throw ClientError("stream closed without a line containing '\(text)'; got \(lines)") }
            if !condition.wait(until: deadline) { throw ClientError("no line containing '\(text)' within \(guardSeconds) s; got \(lines)") }
        }
    }

    /// Waits until the stream is closed (the process exited).
    func waitForClose(guardSeconds: Double = Double(ioGuardSeconds)) throws {
        let deadline = Date().addingTimeInterval(guardSeconds)
        condition.lock()
        defer { condition.unlock() }
        while !state.withLock({ $0.closed }) {
            if !condition.wait(until: deadline) { throw ClientError("stream not closed within \(guardSeconds) s") }
        }
    }
}

/// A running `broker-server` child process.
final class BrokerProcess {
    let process = Process()
    let stdout: LineCollector
    let stderr: LineCollector
    private let exited = DispatchSemaphore(value: 0)
    /// The port from the `listening on` line (0 until then).
    private(set) var port = 0

    /// Launches `broker-server arguments...` (with `environment` added to the test's);
    /// does not wait for readiness.
    init(arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = try brokerServerExecutable()
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.currentDirectoryURL = URL(fileURLWithPath: NSTemporaryDirectory())  // no conf/broker.conf there
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let exited = self.exited
        process.terminationHandler = { _ in exited.signal() }
        try process.run()
        stdout = LineCollector(out.fileHandleForReading)
        stderr = LineCollector(err.fileHandleForReading)
    }

    /// Launches and waits for the readiness line `listening on <ip>:<port>`.
    static func start(_ arguments: [String]) throws -> BrokerProcess {
        let broker = try BrokerProcess(arguments: arguments)
        do {
            let index = try broker.stdout.waitForLine(containing: "listening on ")
            let line = broker.stdout.lines[index]
            guard line.hasPrefix("listening on 127.0.0.1:"), let port = Int(line.split(separator: ":").last ?? "") else {
                throw ClientError("unexpected readiness line '\(line)'")
            }
            broker.port = port
        } catch {
            broker.kill()
            throw error
        }
        return broker
    }

    /// Starts a broker on port 0 with a configuration file holding `fileLines`.
    static func start(config fileLines: [String], flags: [String] = []) throws -> (BrokerProcess, ConfigFile) {
        let file = try ConfigFile(fileLines)
        return (try start(["--config", file.path, "--port", "0"] + flags), file)
    }

    var pid: Int32 { process.processIdentifier }

    func signal(_ number: Int32) { _ = Glibc.kill(pid, number) }

    /// Sends SIGHUP and waits for the reload's log line; returns it.
    @discardableResult
    func reload() throws -> String {
        let before = stderr.lines.count
        signal(SIGHUP)
        let index = try stderr.waitForLine(containing: "reload", from: before)
        return stderr.lines[index]
    }

    /// Waits for the process to exit and returns its exit status.
    func waitForExit(guardSeconds: Double = Double(ioGuardSeconds)) throws -> Int32 {
        if exited.wait(timeout: .now() + guardSeconds) == .timedOut {
            kill()
            throw ClientError("broker-server did not exit within \(guardSeconds) s")
        }
        exited.signal()  // let later callers through too
        try stderr.waitForClose()
        return process.terminationStatus
    }

    /// Stops the process at once (cleanup).
    func kill() {
        if process.isRunning { signal(SIGKILL) }
    }

    /// A client connected to this broker.
    func connect(receiveBuffer: Int32? = nil) throws -> TestClient {
        try TestClient(port: port, receiveBuffer: receiveBuffer)
    }

    deinit { kill() }
}

/// A configuration file in the temporary directory, removed on deinit.
final class ConfigFile {
    let path: String

    init(_ lines: [String]) throws {
        path = NSTemporaryDirectory() + "broker-e2e-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).conf"
        try write(lines)
    }

    /// Replaces the file's contents (before a SIGHUP).
    func write(_ lines: [String]) throws {
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Runs the executable to completion; returns exit status, stdout and stderr lines.
func runBrokerServer(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: [String], stderr: [String]) {
    let broker = try BrokerProcess(arguments: arguments, environment: environment)
    let status = try broker.waitForExit()
    try broker.stdout.waitForClose()
    return (status, broker.stdout.lines, broker.stderr.lines)
}
