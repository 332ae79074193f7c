// One connection to Redis on a reactor: pipelined commands, replies in order, pushes, reconnection with backoff.
import Glibc
import Posix
import RESP

/// Why a Redis command got no reply.
enum RedisFailure: Error, Hashable, Sendable, CustomStringConvertible {
    /// There is no connection to Redis now (one is being made again): the command was not sent.
    case unavailable(String)
    /// The connection was lost after the command was written: it may or may not have run.
    case connectionLost(String)

    var description: String {
        switch self {
        case let .unavailable(reason): "Redis is unavailable: \(reason)"
        case let .connectionLost(reason): "the connection to Redis was lost: \(reason)"
        }
    }
}

/// Where Redis is and how to log in to it.
struct RedisEndpoint: Hashable, Sendable {
    /// An IP literal, or a name (resolved on the loop at each connection attempt).
    var host: String
    var port: Int
    /// The database `SELECT`ed after connecting (0: none is selected).
    var database: Int = 0
    /// The password of Redis's `default` user, sent with `HELLO 3 AUTH`; nil: none.
    var password: [UInt8]?
}

/// One connection to Redis, on one reactor's loop.
///
/// Guarantees:
/// - Commands are written as soon as they are issued (pipelined); each reply reaches
///   its callback in the order the commands were issued, on the loop.
/// - The connection speaks RESP3: `HELLO 3` (with `AUTH` when a password is set), then
///   `SELECT` when the database is not 0, before it is ready. Pushes (pub/sub
///   deliveries, and the confirmations of `SUBSCRIBE` and its family, which in RESP3 are
///   pushes, not replies) go to `onPush`; send those commands with ``sendWithoutReply(_:)``.
/// - A command issued while the connection is not ready fails at once with
///   ``RedisFailure/unavailable(_:)``: nothing waits on a Redis that is away.
/// - When the connection fails, every command still awaiting its reply fails with
///   ``RedisFailure/connectionLost(_:)``, in order; `onStateChange(false)` runs if it was
///   ready, and a new connection is attempted after a pause that doubles from 100 ms
///   to 2 s (reset once a connection is ready). An attempt that takes more than
///   ``connectTimeoutMs`` fails.
/// - Replies are read within ``RESPLimits``: a reply over them ends the connection
///   (it is then made again), never the process.
///
/// Loop thread only (the reactor's), including its creation.
final class RedisConnection: ReactorHandler {
    /// How long a connection attempt (connect and handshake) may take.
    static let connectTimeoutMs: Int64 = 2_000
    /// The first and the longest pause between attempts.
    static let firstBackoffMs: Int64 = 100
    static let longestBackoffMs: Int64 = 2_000

    /// Where the connection is in its life.
    private enum Phase: Equatable {
        /// No socket: waiting for the next attempt (or not started).
        case waiting
        /// `connect` in progress.
        case connecting
        /// Connected; the handshake's replies are awaited.
        case handshaking
        /// Commands are accepted.
        case ready
        /// ``close()`` was called: nothing more happens.
        case closed
    }

    /// A socket the connection owns (a class, so that it can be held in an optional).
    private final class OwnedSocket {
        let handle: SocketHandle
        init(_ handle: consuming SocketHandle) { self.handle = handle }
    }

    let endpoint: RedisEndpoint
    /// Called with every push Redis sends.
    var onPush: (RESPValue) -> Void = { _ in }
    /// Called with true when the connection becomes ready, false when a ready one is lost.
    var onStateChange: (Bool) -> Void = { _ in }
    /// Called with the reason each time an attempt (or a connection) failed, before the pause.
    var onAttemptFailed: (String) -> Void = { _ in }

    private unowned(unsafe) let reactor: Reactor
    private let limits: RESPLimits
    private var phase = Phase.waiting
    private var socket: OwnedSocket?
    private var token: ReactorToken?
    /// What the reactor watches the socket for now.
    private var interest: UInt32 = 0
    /// Callbacks of the commands written and not answered yet, oldest first from `pendingHead`.
    private var pending: [(Result<RESPValue, RedisFailure>) -> Void] = []
    private var pendingHead = 0
    /// Bytes to write, from `outputSent` on.
    private var output: [UInt8] = []
    private var outputSent = 0
    /// Bytes read and not parsed yet, from `inputStart` on; no parse is tried before
    /// `inputNeeded` bytes are there (the reader's hint for a value that is not whole).
    private var input: [UInt8] = []
    private var inputStart = 0
    private var inputNeeded = 0
    private var backoffMs = RedisConnection.firstBackoffMs
    private var timer: ReactorTimer?
    /// Why the last attempt or connection failed (for ``RedisFailure/unavailable(_:)``).
    private(set) var lastFailure = "not connected yet"

    init(reactor: Reactor, endpoint: RedisEndpoint, limits: RESPLimits = RESPLimits()) {
        self.reactor = reactor
        self.endpoint = endpoint
        self.limits = limits
    }

    /// True while commands are accepted.
    var isReady: Bool { phase == .ready }

    /// Commands written whose replies have not come yet.
    var awaitingReplies: Int { pending.count - pendingHead }

    /// Makes the first connection attempt (and the following ones, as needed).
    func start() {
        reactor.assertInLoop()
        guard phase == .waiting, timer == nil else { return }
        attempt()
    }

    /// Issues one command; `reply` gets its reply (a Redis error reply is a `.success`
    /// holding ``RESPValue/error(_:)``) or the failure. Calls `reply` at once, with
    /// ``RedisFailure/unavailable(_:)``, when the connection is not ready.
    func send(_ arguments: [[UInt8]], reply: @escaping (Result<RESPValue, RedisFailure>) -> Void) {
        reactor.assertInLoop()
        guard phase == .ready else {
            reply(.failure(.unavailable(lastFailure)))
            return
        }
        write(arguments, reply: reply)
    }

    /// Issues a command whose answer comes as a push (`SUBSCRIBE`, `PSUBSCRIBE`,
    /// `UNSUBSCRIBE`, `PUNSUBSCRIBE`, `SSUBSCRIBE`, ...). False when not ready (nothing sent).
    @discardableResult
    func sendWithoutReply(_ arguments: [[UInt8]]) -> Bool {
        reactor.assertInLoop()
        guard phase == .ready else { return false }
        RESPWriter.appendCommand(arguments, to: &output)
        flush()
        return true
    }

    /// Ends the connection for good: commands awaiting replies fail, no attempt follows.
    func close() {
        reactor.assertInLoop()
        if phase == .closed { return }
        let wasReady = phase == .ready
        dropSocket()
        phase = .closed
        if let timer { reactor.cancelTimer(timer) }
        timer = nil
        failPending(.connectionLost("closed"))
        if wasReady { onStateChange(false) }
    }

    // MARK: Connecting

    private func attempt() {
        timer = nil
        guard phase == .waiting else { return }
        let address: SocketAddress
        do throws(ConnectError) {
            if let literal = SocketAddress(host: endpoint.host, port: endpoint.port) {
                address = literal
            } else if let first = try SocketAddress.resolve(host: endpoint.host, port: endpoint.port).first {
                address = first
            } else {
                throw .cannotResolve(host: endpoint.host, reason: "no address")
            }
        } catch {
            retryLater(error.description)
            return
        }
        do {
            var connected = false
            let handle = try SocketHandle.startConnect(to: address, connected: &connected)
            let owned = OwnedSocket(handle)
            let token = reactor.reserveToken()
            try reactor.register(owned.handle.fd, events: EpollBits.writable, token: token, handler: self)
            socket = owned
            self.token = token
            interest = EpollBits.writable
            phase = .connecting
            timer = reactor.addTimer(at: monotonicMilliseconds() + RedisConnection.connectTimeoutMs) { [weak self] in
                guard let self else { return }
                timer = nil
                if phase == .connecting || phase == .handshaking { failConnection("no answer within \(RedisConnection.connectTimeoutMs) ms") }
            }
            if connected { connectionMade() }
        } catch {
            dropSocket()
            retryLater(error.description)
        }
    }

    private func connectionMade() {
        guard let socket else { return }
        do {
            try socket.handle.finishConnect()
        } catch {
            failConnection(error.description)
            return
        }
        phase = .handshaking
        var hello: [[UInt8]] = [Array("HELLO".utf8), Array("3".utf8)]
        if let password = endpoint.password { hello += [Array("AUTH".utf8), Array("default".utf8), password] }
        write(hello) { [unowned self] result in
            guard case let .success(value) = result else { return }
            if case .map = value { return }
            failConnection("HELLO 3 was answered \(RedisConnection.describe(value))")
        }
        if endpoint.database != 0 {
            write([Array("SELECT".utf8), Array(String(endpoint.database).utf8)]) { [unowned self] result in
                guard case let .success(value) = result else { return }
                if value != .simpleString(Array("OK".utf8)) { failConnection("SELECT was answered \(RedisConnection.describe(value))") }
            }
        }
        write([Array("PING".utf8)]) { [unowned self] result in
            guard case .success = result, phase == .handshaking else { return }
            phase = .ready
            backoffMs = RedisConnection.firstBackoffMs
            if let timer { reactor.cancelTimer(timer) }
            timer = nil
            onStateChange(true)
        }
    }

    /// The connection failed or closed: everything awaiting fails, and another attempt follows.
    private func failConnection(_ reason: String) {
        guard phase != .closed, phase != .waiting else { return }
        let wasReady = phase == .ready
        dropSocket()
        phase = .waiting
        failPending(.connectionLost(reason))
        if wasReady { onStateChange(false) }
        retryLater(reason)
    }

    private func retryLater(_ reason: String) {
        lastFailure = reason
        guard phase == .waiting else { return }
        onAttemptFailed(reason)
        if let timer { reactor.cancelTimer(timer) }
        let pause = backoffMs
        backoffMs = min(backoffMs * 2, RedisConnection.longestBackoffMs)
        timer = reactor.addTimer(at: monotonicMilliseconds() + pause) { [weak self] in self?.attempt() }
    }

    private func dropSocket() {
        if let socket, let token { reactor.deregister(socket.handle.fd, token: token) }
        socket = nil  // closes the descriptor
        token = nil
        interest = 0
        output.removeAll(keepingCapacity: false)
        outputSent = 0
        input.removeAll(keepingCapacity: false)
        inputStart = 0
        inputNeeded = 0
    }

    private func failPending(_ failure: RedisFailure) {
        // Callbacks may issue commands (they fail at once: not ready): take the list first.
        let callbacks = pending[pendingHead...]
        pending = []
        pendingHead = 0
        for callback in callbacks { callback(.failure(failure)) }
    }

    // MARK: Reading and writing

    private func write(_ arguments: [[UInt8]], reply: @escaping (Result<RESPValue, RedisFailure>) -> Void) {
        RESPWriter.appendCommand(arguments, to: &output)
        pending.append(reply)
        flush()
    }

    func handleEvents(_ events: UInt32) {
        if phase == .connecting {
            if events & (EpollBits.writable | EpollBits.error | EpollBits.hangup) != 0 { connectionMade() }
            return
        }
        guard phase == .handshaking || phase == .ready else { return }
        if events & (EpollBits.readable | EpollBits.hangup | EpollBits.error | EpollBits.readHangup) != 0 { readAvailable() }
        if events & EpollBits.writable != 0, phase == .handshaking || phase == .ready { flush() }
    }

    /// Writes what it can; watches for writability while something is left.
    private func flush() {
        guard let socket, phase == .handshaking || phase == .ready else { return }
        while outputSent < output.count {
            let sent: Result<IOResult<Int>, SystemError> = output.withUnsafeBytes { bytes in
                Result { () throws(SystemError) in try socket.handle.send(UnsafeRawBufferPointer(rebasing: bytes[outputSent...])) }
            }
            guard let result = succeeded(sent) else { return }
            guard case let .done(count) = result else { break }
            outputSent += count
        }
        if outputSent == output.count {
            output.removeAll(keepingCapacity: output.capacity <= 65_536)
            outputSent = 0
        }
        watch(writing: outputSent < output.count)
    }

    private func watch(writing: Bool) {
        guard let socket, let token else { return }
        let wanted = EpollBits.readable | EpollBits.readHangup | (writing ? EpollBits.writable : 0)
        guard wanted != interest else { return }
        do {
            try reactor.modify(socket.handle.fd, token: token, events: wanted)
            interest = wanted
        } catch {
            failConnection(error.description)
        }
    }

    private func readAvailable() {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while let socket, phase == .handshaking || phase == .ready {
            let read: Result<IOResult<Int>, SystemError> = chunk.withUnsafeMutableBytes { buffer in
                Result { () throws(SystemError) in try socket.handle.read(into: buffer) }
            }
            guard let result = succeeded(read) else { return }
            guard case let .done(count) = result else { return }
            if count == 0 {
                failConnection("Redis closed the connection")
                return
            }
            input.append(contentsOf: chunk[0..<count])
            parseInput()
            if count < chunk.count { return }
        }
    }

    /// The value of `result`; nil after failing the connection with its error.
    private func succeeded<Value, Failure: Error & CustomStringConvertible>(_ result: Result<Value, Failure>) -> Value? {
        switch result {
        case let .success(value): return value
        case let .failure(error):
            failConnection(error.description)
            return nil
        }
    }

    /// Hands every whole value read to its callback or to `onPush`.
    private func parseInput() {
        while phase == .handshaking || phase == .ready, input.count - inputStart >= max(1, inputNeeded) {
            let parsed: Result<RESPReadResult, RESPError> = input.withUnsafeBytes { bytes in
                Result { () throws(RESPError) in
                    try RESPReader.read(UnsafeRawBufferPointer(rebasing: bytes[inputStart...]), limits: limits)
                }
            }
            guard let result = succeeded(parsed.mapError { RESPError("an unreadable reply: \($0.reason)") }) else { return }
            switch result {
            case let .incomplete(needAtLeast):
                inputNeeded = needAtLeast
                compactInput()
                return
            case let .value(value, consumed):
                inputStart += consumed
                inputNeeded = 0
                deliver(value)
            }
        }
        compactInput()
    }

    private func deliver(_ value: RESPValue) {
        if case .push = value {
            onPush(value)
            return
        }
        guard pendingHead < pending.count else {
            failConnection("a reply that answers no command: \(RedisConnection.describe(value))")
            return
        }
        let callback = pending[pendingHead]
        pendingHead += 1
        if pendingHead == pending.count {
            pending.removeAll(keepingCapacity: pending.capacity <= 1024)
            pendingHead = 0
        } else if pendingHead > 1024 && pendingHead * 2 > pending.count {
            pending.removeFirst(pendingHead)
            pendingHead = 0
        }
        callback(.success(value))
    }

    /// Drops the parsed front of `input` once it is most of the buffer.
    private func compactInput() {
        if inputStart == input.count {
            input.removeAll(keepingCapacity: input.capacity <= 1 << 20)
            inputStart = 0
        } else if inputStart > 65_536 && inputStart * 2 > input.count {
            input.removeFirst(inputStart)
            inputStart = 0
        }
    }

    /// A reply in a log line: its kind and its first bytes.
    static func describe(_ value: RESPValue) -> String {
        if let text = value.errorText { return "with the error \(text.prefix(80))" }
        if let text = value.text { return "'\(text.prefix(80))'" }
        return "\(String(describing: value).prefix(80))"
    }
}
