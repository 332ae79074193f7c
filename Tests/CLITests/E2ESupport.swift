// End-to-end helpers: find the built executables, run them with pipes, read their lines with timeouts.
import Foundation
import Locks
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Where the package's executables were built, and whether the daemon is among them.
enum Binaries {
    /// The build products directory: the one holding this test bundle (or `.build*/debug` next to the package).
    static let directory: String = {
        var candidates: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append((exe as NSString).deletingLastPathComponent)
        }
        if let bundle = Bundle.main.executableURL?.deletingLastPathComponent().path { candidates.append(bundle) }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates += [".build-cli/debug", ".build/debug"].map { package.appendingPathComponent($0).path }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0 + "/broker-cli") } ?? candidates.first ?? "."
    }()

    static var cli: String { directory + "/broker-cli" }
    static var server: String { directory + "/broker-server" }

    /// True when `broker-server` was built (it arrives with the daemon's branch).
    static var serverExists: Bool { FileManager.default.isExecutableFile(atPath: server) }

    /// CI must run every e2e test: there a missing daemon is a failure, not a skip.
    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// The trait condition of tests that need the daemon: run when it exists, or on CI (to fail).
    static var daemonTestsEnabled: Bool { serverExists || isCI }
}

/// Collects a pipe's output as lines on a background thread, so the child never blocks on a full pipe.
final class LineCollector: Sendable {
    /// Lines read so far (without LF) and whether the pipe reached end of file.
    private let state = PthreadLock<(lines: [String], partial: [UInt8], ended: Bool)>(([], [], false))
    /// Signalled after each read.
    private let changed = DispatchSemaphore(value: 0)
    /// The read end; kept so the descriptor stays open as long as the collector.
    private let handle: FileHandle
    private var fd: Int32 { handle.fileDescriptor }

    init(_ handle: FileHandle) {
        self.handle = handle
    }

    /// Starts reading (a test may delay this to make the child block on its output).
    func start() {
        Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                state.withLock { state in
                    if count <= 0 {
                        if !state.partial.isEmpty { state.lines.append(String(decoding: state.partial, as: UTF8.self)) }
                        state.partial = []
                        state.ended = true
                        return
                    }
                    var start = 0
                    for index in 0..<count where buffer[index] == 0x0A {
                        state.partial.append(contentsOf: buffer[start..<index])
                        state.lines.append(String(decoding: state.partial, as: UTF8.self))
                        state.partial = []
                        start = index + 1
                    }
                    state.partial.append(contentsOf: buffer[start..<count])
                }
                changed.signal()
                if count <= 0 { return }
            }
        }.start()
    }

    /// Every line so far.
    var lines: [String] { state.withLock { $0.lines } }

    /// Waits until `condition` holds for the lines (true), or the pipe ends or time runs out (false).
    @discardableResult
    func wait(timeout: Duration = .seconds(20), until condition: ([String]) -> Bool) -> Bool {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            let (satisfied, ended) = state.withLock { (condition($0.lines), $0.ended) }
            if satisfied { return true }
            if ended || ContinuousClock.now >= deadline { return false }
            _ = changed.wait(timeout: .now() + .milliseconds(100))
        }
    }

    /// Waits for a line containing `text`; returns it.
    func waitForLine(containing text: String, timeout: Duration = .seconds(20)) -> String? {
        var found: String?
        wait(timeout: timeout) { lines in
            found = lines.first { $0.contains(text) }
            return found != nil
        }
        return found
    }

    /// Waits for end of file; returns every line.
    func waitForEnd(timeout: Duration = .seconds(20)) -> [String] {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            if state.withLock({ $0.ended }) { break }
            _ = changed.wait(timeout: .now() + .milliseconds(100))
        }
        return lines
    }
}

/// A child process with piped stdin, stdout and stderr.
final class Child: Sendable {
    let process: Process
    let stdout: LineCollector
    let stderr: LineCollector
    let stdin: FileHandle
    private let exited = DispatchSemaphore(value: 0)

    /// Starts `path` with `arguments`; stdout is read at once unless `readStdout` is false.
    init(_ path: String, _ arguments: [String], environment extra: [String: String] = [:], readStdout: Bool = true) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["BROKER_ADDR"] = nil
        environment.merge(extra) { $1 }
        process.environment = environment
        // Close-on-exec pipes: a child started later (a test runs several) must not inherit
        // another child's pipe ends, or end of file would wait for that child too.
        let input = try CloexecPipe(), output = try CloexecPipe(), errors = try CloexecPipe()
        process.standardInput = input.fileHandleForReading
        process.standardOutput = output.fileHandleForWriting
        process.standardError = errors.fileHandleForWriting
        let exited = self.exited
        process.terminationHandler = { _ in exited.signal() }
        self.process = process
        self.stdin = input.fileHandleForWriting
        self.stdout = LineCollector(output.fileHandleForReading)
        self.stderr = LineCollector(errors.fileHandleForReading)
        // posix_spawn passes on the calling thread's signal mask, and the test runner's
        // threads block signals: spawn with none blocked so SIGTERM and SIGINT reach the child.
        var none = sigset_t(), previous = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
        try? output.fileHandleForWriting.close()
        try? errors.fileHandleForWriting.close()
        try? input.fileHandleForReading.close()
        if readStdout { stdout.start() }
        stderr.start()
    }

    /// Runs broker-cli with these arguments.
    static func cli(_ arguments: [String], environment: [String: String] = [:], readStdout: Bool = true) throws -> Child {
        try Child(Binaries.cli, arguments, environment: environment, readStdout: readStdout)
    }

    /// Writes bytes to the child's stdin, then closes it (on a background thread for big inputs).
    func feed(_ bytes: [UInt8]) {
        let handle = stdin
        Thread {
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let count = write(handle.fileDescriptor, raw.baseAddress.map { $0 + offset }, raw.count - offset)
                    if count < 0 { if errno == EINTR { continue } else { break } }
                    offset += count
                }
            }
            try? handle.close()
        }.start()
    }

    /// Sends a signal.
    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the exit status; nil (after killing the child) if it did not exit in time.
    func waitForExit(timeout: Duration = .seconds(30)) -> Int32? {
        let milliseconds = Int(timeout.components.seconds * 1000)
        if exited.wait(timeout: .now() + .milliseconds(milliseconds)) == .timedOut {
            signal(SIGKILL)
            exited.wait()
            return nil
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// A running `broker-server --port <n>`, ready once it printed `listening on <ip>:<port>`.
final class Server: Sendable {
    let child: Child
    let port: UInt16

    /// Starts the daemon on `port` (0: any free port) and waits for its `listening on` line.
    init(port: UInt16 = 0, _ extra: [String] = []) throws {
        guard Binaries.serverExists else {
            throw E2EFailure("broker-server is not built at \(Binaries.server) (it comes with the daemon's branch)")
        }
        child = try Child(Binaries.server, ["--port", String(port)] + extra)
        guard let line = child.stdout.waitForLine(containing: "listening on ", timeout: .seconds(20)),
              let colon = line.lastIndex(of: ":"), let parsed = UInt16(line[line.index(after: colon)...]) else {
            child.signal(SIGKILL)
            throw E2EFailure("broker-server did not print 'listening on <ip>:<port>'; stderr: \(child.stderr.lines.suffix(5))")
        }
        self.port = parsed
    }

    /// `--port <n>` for broker-cli.
    var portArguments: [String] { ["--port", String(port)] }

    /// SIGTERM and wait for the exit.
    @discardableResult
    func stop() -> Int32? {
        child.signal(SIGTERM)
        return child.waitForExit(timeout: .seconds(20))
    }

    deinit { if child.process.isRunning { child.signal(SIGKILL) } }
}

/// A pipe whose two descriptors are close-on-exec (Foundation's `Pipe` is not).
struct CloexecPipe {
    let fileHandleForReading: FileHandle
    let fileHandleForWriting: FileHandle

    init() throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw E2EFailure("pipe failed: errno \(errno)") }
        // (pipe2 is not exported by Glibc's module map; the window before fcntl is tiny.)
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        fileHandleForReading = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true)
        fileHandleForWriting = FileHandle(fileDescriptor: fds[1], closeOnDealloc: true)
    }
}

/// A failed precondition of an end-to-end test.
struct E2EFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A TCP port on 127.0.0.1 that nothing listens on (bound, then closed).
func closedPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw E2EFailure("socket failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw E2EFailure("bind failed") }
    return UInt16(bigEndian: address.sin_port)
}

/// Starts `broker-cli sub` against `port` and waits until it says every SUB was answered.
func subscriber(port: UInt16, _ arguments: [String], readStdout: Bool = true) throws -> Child {
    let child = try Child.cli(["sub"] + arguments + ["--port", String(port)], readStdout: readStdout)
    guard child.stderr.waitForLine(containing: "subscribed to ") != nil else {
        throw E2EFailure("sub did not subscribe; stderr: \(child.stderr.lines)")
    }
    return child
}

/// Runs broker-cli to completion, with `stdin` as its input (none: closed) and `environment`
/// added to its own; returns its status, stdout and stderr lines.
func runCLI(_ arguments: [String], stdin: [UInt8]? = nil, environment: [String: String] = [:],
            timeout: Duration = .seconds(60)) throws -> (status: Int32?, out: [String], err: [String]) {
    let child = try Child.cli(arguments, environment: environment)
    if let stdin { child.feed(stdin) } else { try? child.stdin.close() }
    let status = child.waitForExit(timeout: timeout)
    return (status, child.stdout.waitForEnd(), child.stderr.waitForEnd())
}

/// A loopback port nobody listens on now (bound, read, released).
func freeLoopbackPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw E2EFailure("socket: errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
            bind(fd, raw, length) == 0 && getsockname(fd, raw, &length) == 0
        }
    }
    guard bound else { throw E2EFailure("bind: errno \(errno)") }
    return UInt16(bigEndian: address.sin_port)
}
