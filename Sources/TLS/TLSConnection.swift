// One TLS connection over a non-blocking socket: handshake, reads and writes that say what they wait for.
import CBrokerShim
import Glibc

/// What a non-blocking TLS call did.
public enum TLSStep: Equatable, Sendable {
    /// It went through: bytes read or written (0 for a completed handshake).
    case done(Int)
    /// It needs the socket readable, then the same call again.
    case wantRead
    /// It needs the socket writable, then the same call again.
    case wantWrite
    /// The peer ended the TLS session or the connection.
    case closed
}

/// A TLS connection over a connected, non-blocking socket it does not own.
///
/// Guarantees:
/// - Every call returns at once: `.wantRead` / `.wantWrite` say which readiness the socket
///   needs before the same call is made again (a read may need the socket writable and a write
///   readable: TLS runs both ways).
/// - A write that was told to wait is offered at least the same bytes again
///   (``write(pieces:staging:)`` does this by construction: nothing is consumed until OpenSSL
///   took it, and each attempt offers the first min(16 KiB, all) bytes).
/// - Its I/O never raises SIGPIPE; TLS 1.2 is the oldest version spoken.
///
/// One thread at a time. The socket must outlive it.
public final class TLSConnection {
    /// The most plaintext one TLS record carries: what one write offers at most.
    public static let recordBytes = 16 * 1024

    private let handle: OpaquePointer
    /// The context it was made from (kept alive with it).
    public let context: TLSContext
    /// Whether the handshake has completed.
    public private(set) var isEstablished = false

    /// A connection on `fd` with `context`'s side and credentials; a client names `hostName`
    /// (sent as SNI, and checked against the server's certificate when the context verifies).
    public init(context: TLSContext, fd: Int32, hostName: String? = nil) throws(TLSError) {
        let made = withOptionalCString(hostName) { name in
            cbroker_tls_new(context.pointer, fd, context.isServer ? 1 : 0, name)
        }
        guard let made else { throw TLSError("cannot make a TLS connection (out of memory)") }
        handle = made
        self.context = context
    }

    deinit { cbroker_tls_free(handle) }

    /// Advances the handshake; `.done(0)` once it is complete (then at once on every later call).
    public func handshake() throws(TLSError) -> TLSStep {
        if isEstablished { return .done(0) }
        let result = cbroker_tls_handshake(handle)
        if result == 1 {
            isEstablished = true
            return .done(0)
        }
        return try step(result)
    }

    /// Reads decrypted bytes into `buffer` (at most 2 GiB at once).
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(TLSError) -> TLSStep {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return .done(0) }
        return try step(cbroker_tls_read(handle, base, Int32(clamping: buffer.count)))
    }

    /// Encrypts and writes from `bytes`: the count taken (one record or more), or what it waits
    /// for. `more`: further writes follow at once (the kernel holds the record to send it with them).
    public func write(_ bytes: UnsafeRawBufferPointer, more: Bool = false) throws(TLSError) -> TLSStep {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return .done(0) }
        return try step(cbroker_tls_write(handle, base, Int32(clamping: bytes.count), more ? 1 : 0))
    }

    /// Writes the bytes of `pieces` in order, in records of up to ``recordBytes``: a piece
    /// holding a whole record is encrypted where it lies, smaller pieces are gathered into
    /// `staging` (at least ``recordBytes``) first. Returns the bytes written, or what it waits
    /// for when it could write none.
    public func write(pieces: UnsafeBufferPointer<iovec>, staging: UnsafeMutableRawBufferPointer) throws(TLSError) -> TLSStep {
        var remaining = 0
        for piece in pieces { remaining += piece.iov_len }
        var written = 0
        var index = 0
        var offset = 0
        while remaining > 0 {
            while pieces[index].iov_len == offset {
                index += 1
                offset = 0
            }
            let length = min(remaining, TLSConnection.recordBytes, staging.count)
            let piece = pieces[index]
            let step: TLSStep
            let more = remaining > length  // records of one batch leave in as few segments as they fill
            if let base = piece.iov_base, piece.iov_len - offset >= length {
                step = try write(UnsafeRawBufferPointer(start: base + offset, count: length), more: more)
            } else {
                gather(length, from: pieces, index: index, offset: offset, into: staging)
                step = try write(UnsafeRawBufferPointer(rebasing: staging[0..<length]), more: more)
            }
            guard case let .done(count) = step else { return written > 0 ? .done(written) : step }
            written += count
            remaining -= count
            var advance = count
            while advance > 0 {
                let left = pieces[index].iov_len - offset
                if advance < left {
                    offset += advance
                    advance = 0
                } else {
                    advance -= left
                    index += 1
                    offset = 0
                }
            }
        }
        return .done(written)
    }

    /// Copies `length` bytes of `pieces`, from piece `index` at `offset`, to `staging`'s start.
    private func gather(_ length: Int, from pieces: UnsafeBufferPointer<iovec>, index: Int, offset: Int,
                        into staging: UnsafeMutableRawBufferPointer) {
        var copied = 0
        var index = index
        var offset = offset
        while copied < length {
            let piece = pieces[index]
            let take = min(piece.iov_len - offset, length - copied)
            if take > 0, let base = piece.iov_base {
                (staging.baseAddress! + copied).copyMemory(from: base + offset, byteCount: take)
            }
            copied += take
            index += 1
            offset = 0
        }
    }

    /// Moves the connection to `fd`, another descriptor of the same socket (a `dup` taken over
    /// by another owner); the old descriptor may then be closed.
    public func moveToDescriptor(_ fd: Int32) {
        cbroker_tls_set_fd(handle, fd)
    }

    /// Decrypted bytes held inside the connection, which the socket's readiness does not show.
    public var pendingPlaintext: Int { Int(cbroker_tls_pending(handle)) }

    /// Sends close_notify, best effort, without waiting.
    public func shutdown() {
        cbroker_tls_shutdown(handle)
    }

    /// The common name of the peer's certificate, when it sent one and it was verified.
    public var peerCommonName: String? {
        var buffer = [CChar](repeating: 0, count: 256)
        let length = cbroker_tls_peer_common_name(handle, &buffer, Int32(buffer.count))
        return length < 0 ? nil : text(of: buffer)
    }

    /// The protocol version and cipher, e.g. `TLSv1.3 TLS_AES_256_GCM_SHA384`.
    public var protocolDescription: String {
        var buffer = [CChar](repeating: 0, count: 128)
        cbroker_tls_description(handle, &buffer, buffer.count)
        return text(of: buffer)
    }

    private func step(_ result: Int32) throws(TLSError) -> TLSStep {
        switch result {
        case let count where count > 0: return .done(Int(count))
        case Int32(CBROKER_TLS_WANT_READ): return .wantRead
        case Int32(CBROKER_TLS_WANT_WRITE): return .wantWrite
        case Int32(CBROKER_TLS_CLOSED): return .closed
        default:
            var buffer = [CChar](repeating: 0, count: 1024)
            cbroker_tls_error_text(handle, &buffer, buffer.count)
            throw TLSError(text(of: buffer))
        }
    }
}
