// The TLS layer of one server connection on a loop: handshake, reads and writes as the reactor sees them.
import Glibc
import Posix
import TLS

/// One server connection's TLS, driven by the reactor's readiness events.
///
/// Guarantees:
/// - Reads and writes return at once, as `IOResult`s like a socket's: `.wouldBlock` when TLS
///   waits, `.done(0)` from a read at the end of the stream. What a blocked call waits for is
///   kept (``events(reading:writing:)``): TLS may need the socket writable to read and readable
///   to write, and the connection watches for that.
/// - A write that had to wait is retried with at least the same bytes: nothing leaves the output
///   queue until OpenSSL took it (``TLSConnection/write(pieces:staging:)``).
/// - A failure is thrown as a `SystemError` (`EPROTO`) the session closes on, after
///   ``lastFailure`` recorded OpenSSL's reason for the log.
///
/// Loop thread only.
final class TLSLink {
    let connection: TLSConnection
    /// The events the handshake waits for, until it completes.
    private(set) var handshakeEvents = EpollBits.readable | EpollBits.readHangup
    /// A read stopped until the socket is writable (TLS had to write first).
    private(set) var readWaitsForWritable = false
    /// A write stopped until the socket is readable (TLS had to read first).
    private(set) var writeWaitsForReadable = false
    /// OpenSSL's reason for the last failure.
    private(set) var lastFailure: TLSError?
    /// A turn that reads what TLS holds decrypted, once scheduled.
    private var bufferedReadTurn: ReactorTimer?

    init(context: TLSContext, fd: Int32) throws(TLSError) {
        connection = try TLSConnection(context: context, fd: fd)
    }

    var isEstablished: Bool { connection.isEstablished }

    /// Advances the handshake: true once complete, false while it waits (``handshakeEvents``
    /// says for what) or the peer left (then `peerLeft` is set).
    func handshake(peerLeft: inout Bool) throws(TLSError) -> Bool {
        switch try connection.handshake() {
        case .done: return true
        case .wantRead: handshakeEvents = EpollBits.readable | EpollBits.readHangup
        case .wantWrite: handshakeEvents = EpollBits.writable
        case .closed: peerLeft = true
        }
        return false
    }

    /// Reads decrypted bytes; `.done(0)` at the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        let step: TLSStep
        do {
            step = try connection.read(into: buffer)
        } catch {
            throw failed(error, call: "SSL_read")
        }
        readWaitsForWritable = step == .wantWrite
        switch step {
        case let .done(count): return .done(count)
        case .closed: return .done(0)
        case .wantRead, .wantWrite: return .wouldBlock
        }
    }

    /// Encrypts and writes `pieces` (gathered through `staging` in records of up to 16 KiB).
    func write(pieces: UnsafeBufferPointer<iovec>, staging: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        let step: TLSStep
        do {
            step = try connection.write(pieces: pieces, staging: staging)
        } catch {
            throw failed(error, call: "SSL_write")
        }
        return outcome(ofWrite: step)
    }

    /// Encrypts and writes `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        let step: TLSStep
        do {
            step = try connection.write(bytes)
        } catch {
            throw failed(error, call: "SSL_write")
        }
        return outcome(ofWrite: step)
    }

    private func outcome(ofWrite step: TLSStep) -> IOResult<Int> {
        writeWaitsForReadable = step == .wantRead
        switch step {
        case let .done(count): return .done(count)
        case .closed: return .done(0)
        case .wantRead, .wantWrite: return .wouldBlock
        }
    }

    private func failed(_ error: TLSError, call: String) -> SystemError {
        lastFailure = error
        return SystemError(call, errno: EPROTO)
    }

    /// The epoll events an established connection needs: `reading` and `writing` as the session
    /// wants them, each turned around when TLS waits for the other direction.
    func events(reading: Bool, writing: Bool) -> UInt32 {
        guard isEstablished else { return handshakeEvents }
        var wanted: UInt32 = 0
        if reading {
            wanted |= EpollBits.readable | EpollBits.readHangup
            if readWaitsForWritable { wanted |= EpollBits.writable }
        }
        if writing { wanted |= writeWaitsForReadable ? EpollBits.readable : EpollBits.writable }
        return wanted
    }

    /// Decrypted bytes TLS holds that the socket's readiness will not announce.
    var hasBufferedInput: Bool { connection.pendingPlaintext > 0 }

    /// Runs `read` on the reactor's next turn (once, however often it is asked before then).
    func scheduleBufferedRead(on reactor: Reactor, _ read: @escaping () -> Void) {
        guard bufferedReadTurn == nil else { return }
        bufferedReadTurn = reactor.addTimer(at: monotonicMilliseconds()) { [weak self] in
            self?.bufferedReadTurn = nil
            read()
        }
    }

    /// Sends close_notify when the handshake completed (best effort, never waits), and drops a
    /// scheduled read.
    func close(reactor: Reactor) {
        if let bufferedReadTurn { reactor.cancelTimer(bufferedReadTurn) }
        bufferedReadTurn = nil
        if isEstablished { connection.shutdown() }
    }

    /// A log line's text for a failed handshake, with a hint for the common mistake.
    static func describeHandshakeFailure(_ error: TLSError) -> String {
        let reason = error.reason
        if reason.contains("wrong version number") || reason.contains("http request") || reason.contains("packet length too long") {
            return "\(reason) (plaintext sent to a TLS port?)"
        }
        return reason
    }
}
