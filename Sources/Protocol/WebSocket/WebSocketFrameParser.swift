// RFC 6455 frames from a client, read incrementally: unmasked in place, checked, handed on as data pieces and control messages.

/// What a client's frames carry, in order.
public enum WebSocketEvent {
    /// A piece of a data message's payload (text or binary alike: the protocol's byte
    /// stream), unmasked; valid only during the call. A message may come in many pieces.
    case data(UnsafeRawBufferPointer)
    /// A ping, with its payload (at most 125 bytes): answer with a pong carrying it.
    case ping([UInt8])
    /// A pong (unasked ones are allowed and mean nothing).
    case pong([UInt8])
    /// The client's close frame: its status code (nil: none given) and reason.
    case close(code: UInt16?, reason: [UInt8])
}

/// Why the client's frames cannot be read on: the status code of the close frame the
/// server sends (RFC 6455, 7.4.1) and a reason for it.
public struct WebSocketFailure: Error, Equatable, Sendable {
    /// 1002 (protocol error), 1007 (a text message that is not UTF-8) or 1009 (too big).
    public let closeCode: UInt16
    public let reason: String

    public static func protocolError(_ reason: String) -> WebSocketFailure { WebSocketFailure(closeCode: 1002, reason: reason) }
    public static let invalidUTF8 = WebSocketFailure(closeCode: 1007, reason: "a text message that is not UTF-8")
    public static func tooBig(_ limit: Int) -> WebSocketFailure {
        WebSocketFailure(closeCode: 1009, reason: "a message longer than \(limit) bytes")
    }
}

/// Reads a client's frames (RFC 6455, section 5) from the bytes as they arrive, in
/// pieces of any size.
///
/// Guarantees:
/// - every rule a server must check: frames are masked, the reserved bits are 0 (no
///   extension is negotiated), opcodes are known, control frames are whole and at most
///   125 bytes, continuations follow a started message and a new message does not start
///   inside one, a 64-bit length has its top bit clear, a text message is UTF-8 across
///   all its fragments (checked as it arrives), a close frame's code and reason are valid;
/// - a data message longer than `maxMessageBytes` fails with 1009 before any of its bytes
///   past the limit are handed on;
/// - data is unmasked in place and handed on without copying; nothing is allocated per
///   frame but a control frame's payload (at most 125 bytes).
///
/// After a failure the parser stays failed: the connection is to be closed.
public struct WebSocketFrameParser: Sendable {
    /// The largest data message accepted, in bytes (all its fragments together).
    public var maxMessageBytes: Int

    private enum Stage: Sendable {
        /// Reading a frame's header (2 to 14 bytes).
        case header
        /// Reading a frame's payload: `remaining` bytes left.
        case payload
        /// A failure was reported.
        case failed(WebSocketFailure)
    }

    private var stage = Stage.header
    /// The header read so far.
    private var header: [UInt8] = []
    /// The current frame: opcode, whether final, payload bytes left, mask key and the
    /// position in it of the next byte.
    private var opcode: UInt8 = 0
    private var isFinal = false
    private var remaining: UInt64 = 0
    private var mask: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
    private var maskIndex = 0
    /// A control frame's payload, gathered until it is whole.
    private var control: [UInt8] = []
    /// The data message in progress (1: text, 2: binary, 0: none) and its bytes so far.
    private var messageOpcode: UInt8 = 0
    private var messageBytes = 0
    /// The UTF-8 check of the text message in progress.
    private var utf8 = UTF8Check()

    public init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
        header.reserveCapacity(14)
    }

    /// Reads `bytes` (unmasking data in place) and hands on what they complete, in order.
    /// Throws the first violation; every event before it was handed on.
    public mutating func feed(_ bytes: UnsafeMutableRawBufferPointer, _ handle: (WebSocketEvent) -> Void) throws(WebSocketFailure) {
        if case let .failed(failure) = stage { throw failure }
        do {
            try read(bytes, handle)
        } catch {
            stage = .failed(error)
            throw error
        }
    }

    private mutating func read(_ bytes: UnsafeMutableRawBufferPointer, _ handle: (WebSocketEvent) -> Void) throws(WebSocketFailure) {
        var index = 0
        while index < bytes.count || (isPayload && remaining == 0) {
            switch stage {
            case .failed(let failure):
                throw failure
            case .header:
                header.append(bytes[index])
                index += 1
                if header.count == 2 {
                    // Checked at once: an unmasked frame's header is shorter than a masked one's.
                    guard header[0] & 0x70 == 0 else { throw .protocolError("a reserved bit is set (no extension was agreed)") }
                    guard header[1] & 0x80 != 0 else { throw .protocolError("a client frame that is not masked") }
                }
                if let needed = headerLength(), header.count == needed { try startFrame() }
            case .payload:
                let take = Int(min(remaining, UInt64(bytes.count - index)))
                if take > 0 {
                    let piece = UnsafeMutableRawBufferPointer(rebasing: bytes[index..<(index + take)])
                    unmask(piece)
                    index += take
                    remaining -= UInt64(take)
                    if opcode >= 0x8 {
                        control.append(contentsOf: piece)
                    } else {
                        if messageOpcode == 1 { try utf8.check(UnsafeRawBufferPointer(piece)) }
                        handle(.data(UnsafeRawBufferPointer(piece)))
                    }
                }
                if remaining == 0 { try endFrame(handle) }
            }
        }
    }

    private var isPayload: Bool {
        if case .payload = stage { return true }
        return false
    }

    /// The header's whole length once its first two bytes are known.
    private func headerLength() -> Int? {
        guard header.count >= 2 else { return nil }
        let length = header[1] & 0x7F
        return 2 + (length == 126 ? 2 : length == 127 ? 8 : 0) + 4  // clients always mask
    }

    /// The header is whole: checks it and starts reading the payload.
    private mutating func startFrame() throws(WebSocketFailure) {
        let first = header[0]
        let second = header[1]
        opcode = first & 0x0F
        isFinal = first & 0x80 != 0
        var length = UInt64(second & 0x7F)
        var maskAt = 2
        if length == 126 {
            length = UInt64(header[2]) << 8 | UInt64(header[3])
            maskAt = 4
        } else if length == 127 {
            length = 0
            for index in 2..<10 { length = length << 8 | UInt64(header[index]) }
            guard length >> 63 == 0 else { throw .protocolError("a payload length with its most significant bit set") }
            maskAt = 10
        }
        mask = (header[maskAt], header[maskAt + 1], header[maskAt + 2], header[maskAt + 3])
        maskIndex = 0
        switch opcode {
        case 0x8, 0x9, 0xA:
            guard isFinal else { throw .protocolError("a fragmented control frame") }
            guard length <= 125 else { throw .protocolError("a control frame longer than 125 bytes") }
            control.removeAll(keepingCapacity: true)
        case 0x0:
            guard messageOpcode != 0 else { throw .protocolError("a continuation frame without a message to continue") }
        case 0x1, 0x2:
            guard messageOpcode == 0 else { throw .protocolError("a new message inside a fragmented one") }
            messageOpcode = opcode
            messageBytes = 0
            utf8 = UTF8Check()
        default:
            throw .protocolError("an unknown opcode \(opcode)")
        }
        if opcode < 0x8 {
            guard length <= UInt64(maxMessageBytes - messageBytes) else { throw .tooBig(maxMessageBytes) }
            messageBytes += Int(length)
        }
        remaining = length
        header.removeAll(keepingCapacity: true)
        stage = .payload
    }

    /// The payload is read: a control frame is handed on, a final data frame ends its message.
    private mutating func endFrame(_ handle: (WebSocketEvent) -> Void) throws(WebSocketFailure) {
        stage = .header
        switch opcode {
        case 0x8:
            handle(try closeEvent(control))
        case 0x9:
            handle(.ping(control))
        case 0xA:
            handle(.pong(control))
        default:
            if isFinal {
                if messageOpcode == 1 { try utf8.finish() }
                messageOpcode = 0
            }
        }
    }

    /// A close frame's payload: nothing, or a valid status code and a UTF-8 reason.
    private func closeEvent(_ payload: [UInt8]) throws(WebSocketFailure) -> WebSocketEvent {
        if payload.isEmpty { return .close(code: nil, reason: []) }
        guard payload.count >= 2 else { throw .protocolError("a close frame with a one-byte payload") }
        let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
        guard WebSocketFrameParser.isValidCloseCode(code) else { throw .protocolError("a close frame with status code \(code)") }
        let reason = Array(payload[2...])
        guard UTF8Check.isValid(reason) else { throw .invalidUTF8 }
        return .close(code: code, reason: reason)
    }

    /// Status codes a peer may send (RFC 6455 7.4.1 and the IANA registry): 1000–1003,
    /// 1007–1014, and 3000–4999 for libraries and applications.
    static func isValidCloseCode(_ code: UInt16) -> Bool {
        (1000...1003).contains(code) || (1007...1014).contains(code) || (3000...4999).contains(code)
    }

    /// XORs `piece` with the frame's mask, continuing where the last piece stopped.
    private mutating func unmask(_ piece: UnsafeMutableRawBufferPointer) {
        let start = maskIndex
        withUnsafeBytes(of: mask) { key in
            for offset in 0..<piece.count { piece[offset] ^= key[(start + offset) & 3] }
        }
        maskIndex = (maskIndex + piece.count) & 3
    }
}

/// UTF-8 checked in pieces (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
public struct UTF8Check: Sendable {
    /// Continuation bytes still expected, and the range the next one must be in.
    private var needed = 0
    private var low: UInt8 = 0x80
    private var high: UInt8 = 0xBF

    mutating func check(_ bytes: UnsafeRawBufferPointer) throws(WebSocketFailure) {
        for byte in bytes {
            if needed > 0 {
                guard byte >= low && byte <= high else { throw .invalidUTF8 }
                needed -= 1
                (low, high) = (0x80, 0xBF)
                continue
            }
            switch byte {
            case 0x00...0x7F: continue
            case 0xC2...0xDF: needed = 1
            case 0xE0: (needed, low) = (2, 0xA0)
            case 0xE1...0xEC, 0xEE...0xEF: needed = 2
            case 0xED: (needed, high) = (2, 0x9F)
            case 0xF0: (needed, low) = (3, 0x90)
            case 0xF1...0xF3: needed = 3
            case 0xF4: (needed, high) = (3, 0x8F)
            default: throw .invalidUTF8
            }
        }
    }

    /// The text ended: a character cut short is invalid.
    func finish() throws(WebSocketFailure) {
        if needed > 0 { throw .invalidUTF8 }
    }

    /// Whether `bytes`, whole, are UTF-8. ASCII is passed over eight bytes at a time.
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var ascii = 0
        if let base = bytes.baseAddress {
            while ascii + 8 <= bytes.count, base.loadUnaligned(fromByteOffset: ascii, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                ascii += 8
            }
        }
        var check = UTF8Check()
        let rest = UnsafeRawBufferPointer(rebasing: bytes[ascii...])
        return (try? check.check(rest)) != nil && (try? check.finish()) != nil
    }

    public static func isValid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { isValid($0) }
    }
}
