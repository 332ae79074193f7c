// One published message: its payload stored once, inside its version 1 frame, and its version 2 frame made on first need.
import Glibc
import Protocol

/// A message as every subscriber writes it, in either framing, encoded at most once per framing.
///
/// - The version 1 frame `MSG <topic> <payload>\n` is encoded once at publish
///   time; it is also where the payload lives.
/// - The version 2 frame `MSG <topic> <seq> <size>\n<payload>\n` is made by the
///   first version 2 reader (the sequence is known only once the ring numbered the
///   message), inside the ring's lock (``makeVersionTwoFrame(seq:)``), and shared
///   by every later reader. For a small payload it is made whole, so that it is
///   written as one piece like a version 1 frame; for a payload over
///   ``wholeFrameLimit`` only its header is made, and the payload is written from
///   the version 1 frame's bytes (never copied per subscriber either way).
/// - ``isLineSafe`` is false for a payload that cannot stand in one line (it holds
///   an LF or ends with CR): such a message has no version 1 frame a reader
///   could use (PROTOCOL.md, "Payloads of any bytes"), though its bytes are stored the same way.
///
/// A value type holding one reference: copying it is one retain. The bytes never
/// move while any copy exists, so a writer may point an iovec at them while it
/// holds a copy. Any thread: the only field written after `make` is the version 2
/// frame, written once, inside the lock of the ring that holds the message, and
/// read by receivers only after they read the message under that lock.
public struct Message: @unchecked Sendable {
    // @unchecked Sendable: the version 1 bytes are written inside `make`, before the
    // value is shared, and never again; the version 2 frame is written once, under the
    // ring's lock, before any reader that reads it took the message under that lock.

    /// The fixed part of a message's allocation: 32 bytes (lengths as 32-bit numbers: a frame
    /// is at most a 1 GiB payload and a line; 48 bytes with 64-bit ones, which made a 16-byte
    /// message's allocation one malloc size class larger).
    struct Header {
        /// Where the version 2 frame's first piece is, once made: in the room after the
        /// version 1 frame, or in an allocation of its own (``hasVersionTwoRoom`` false).
        var versionTwoFrame: UnsafeMutableRawPointer?
        private var count32: UInt32
        private var payloadOffset32: UInt32
        private var versionTwoCount32: UInt32 = 0
        private var versionTwoFrameCount32: UInt32 = 0
        /// Whether the payload can be written as one line (no LF, no final CR).
        var isLineSafe: Bool
        /// Whether the version 2 frame, once made, holds the payload and its LF too.
        var versionTwoIsWhole = false
        /// Whether room for the version 2 frame was reserved after the version 1 frame.
        var hasVersionTwoRoom: Bool
        /// The WebSocket opcode of the message's frames (text or binary, by the payload's
        /// UTF-8); 0 until a WebSocket reader looks (``webSocketOpcode``).
        var webSocketOpcode: UInt8 = 0

        init(count: Int, payloadOffset: Int, isLineSafe: Bool, hasVersionTwoRoom: Bool) {
            count32 = UInt32(truncatingIfNeeded: count)
            payloadOffset32 = UInt32(truncatingIfNeeded: payloadOffset)
            self.isLineSafe = isLineSafe
            self.hasVersionTwoRoom = hasVersionTwoRoom
        }

        /// Length of the version 1 frame.
        var count: Int { Int(count32) }
        /// Offset of the payload in the frame (`MSG <topic> ` before it).
        var payloadOffset: Int { Int(payloadOffset32) }
        /// Length of the version 2 frame's first piece (the whole frame, or its header);
        /// 0 until the frame is made.
        var versionTwoCount: Int {
            get { Int(versionTwoCount32) }
            set { versionTwoCount32 = UInt32(truncatingIfNeeded: newValue) }
        }
        /// Length of the whole version 2 frame (with the payload and LF written from the
        /// version 1 frame's bytes when the first piece is a header alone); 0 until made.
        var versionTwoFrameCount: Int {
            get { Int(versionTwoFrameCount32) }
            set { versionTwoFrameCount32 = UInt32(truncatingIfNeeded: newValue) }
        }
    }

    /// Tail-allocated storage: the header, then the version 1 frame.
    final class Storage: ManagedBuffer<Header, UInt8> {
        deinit {
            withUnsafeMutablePointerToHeader { header in
                if !header.pointee.hasVersionTwoRoom, let frame = header.pointee.versionTwoFrame { free(frame) }
            }
        }
    }

    /// The largest payload whose version 2 frame is made whole (one copy of the payload
    /// per message, so that each delivery is one piece, like a version 1 frame). Larger
    /// payloads are written from the version 1 frame's bytes after a header of their own.
    /// Matches the output queue's staging limit: pieces above it get their own iovec anyway.
    static let wholeFrameLimit = 512

    /// At most how many bytes the version 2 frame of a message with `topicCount` and
    /// `payloadCount` bytes takes: the header with two numbers of at most 20 digits, and
    /// the payload with its LF when the frame is whole. Arithmetic only: it is on the publish path.
    @inline(__always)
    static func versionTwoRoom(topicCount: Int, payloadCount: Int) -> Int {
        let header = 4 + topicCount + 1 + 20 + 1 + 20 + 1
        return header + (payloadCount <= wholeFrameLimit ? payloadCount + 1 : 0)
    }

    let storage: Storage

    /// `MSG ` as the four bytes of one little-endian word (x86-64 and arm64 are both).
    static let verbAndSpace = UInt32(littleEndian: 0x2047_534D)

    /// Encodes `MSG <topic> <payload>\n` into a new message. `lineSafe` says whether
    /// the payload can be one line; nil: look (a `PUB` payload always can). With
    /// `versionTwoRoom` (its topic has version 2 readers), the allocation also has room
    /// for the version 2 frame, which its first version 2 reader then writes there
    /// rather than into an allocation of its own.
    public static func make(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, lineSafe: Bool? = true,
                            versionTwoRoom: Bool = false) -> Message {
        let length = 4 + topic.count + 1 + payload.count + 1
        let room = versionTwoRoom ? Message.versionTwoRoom(topicCount: topic.count, payloadCount: payload.count) : 0
        let safe = lineSafe ?? Message.canBeOneLine(payload)
        let header = Header(count: length, payloadOffset: 5 + topic.count, isLineSafe: safe, hasVersionTwoRoom: room > 0)
        let storage = unsafeDowncast(Storage.create(minimumCapacity: length + room) { _ in header }, to: Storage.self)
        storage.withUnsafeMutablePointerToElements { start in
            let out = UnsafeMutableRawBufferPointer(start: start, count: length)
            out.storeBytes(of: Message.verbAndSpace, as: UInt32.self)  // "MSG " in one store
            UnsafeMutableRawBufferPointer(rebasing: out[4..<(4 + topic.count)]).copyMemory(from: topic)
            out[4 + topic.count] = 0x20
            let payloadStart = 5 + topic.count
            UnsafeMutableRawBufferPointer(rebasing: out[payloadStart..<(payloadStart + payload.count)]).copyMemory(from: payload)
            out[length - 1] = 0x0A
        }
        return Message(storage: storage)
    }

    /// Whether `payload` can be written inside one line: no LF anywhere, no CR at its end.
    public static func canBeOneLine(_ payload: UnsafeRawBufferPointer) -> Bool {
        if payload.last == 0x0D { return false }
        guard let base = payload.baseAddress, !payload.isEmpty else { return true }
        return memchr(base, 0x0A, payload.count) == nil
    }

    /// An empty message, used to fill scratch buffers.
    public static var placeholder: Message {
        let header = Header(count: 0, payloadOffset: 0, isLineSafe: true, hasVersionTwoRoom: false)
        return Message(storage: unsafeDowncast(Storage.create(minimumCapacity: 0) { _ in header }, to: Storage.self))
    }

    // The header is read through its pointer: `storage.header` is a class stored property
    // (ManagedBuffer's), and each read of it is a run-time exclusivity check, about 76
    // instructions, twice per delivery (docs/bench/callgrind.md).

    /// The version 1 frame's length in bytes.
    public var count: Int { storage.withUnsafeMutablePointerToHeader { $0.pointee.count } }

    /// The version 1 frame's bytes; valid while the caller holds this value.
    public var bytes: UnsafeRawBufferPointer {
        storage.withUnsafeMutablePointers { header, elements in UnsafeRawBufferPointer(start: elements, count: header.pointee.count) }
    }

    /// What holding this message costs, for the memory bounds: its allocation
    /// (frame, header, and the object's own fields, about 72 bytes) and the version 2
    /// frame it may be given (at most ``versionTwoRoom(topicCount:payloadCount:)`` and,
    /// in an allocation of its own, 24 more), counted from the start whether or not it
    /// is, so that a ring's bytes stay bounded whichever framings its readers use.
    @inline(__always)
    public var weight: UInt32 {
        storage.withUnsafeMutablePointerToHeader { header in
            let count = header.pointee.count
            let offset = header.pointee.payloadOffset
            // count - offset - 1 is the payload; offset - 5 the topic (arithmetic only: the publish path).
            let whole = count &- offset &- 1 <= Message.wholeFrameLimit ? count &- offset : 0
            let cost = count &+ 72 &+ (offset &- 5 &+ 47) &+ whole &+ 24
            return UInt32(truncatingIfNeeded: min(cost, Int(UInt32.max)))
        }
    }

    /// Whether the payload can be written as a version 1 `MSG` line.
    public var isLineSafe: Bool { storage.withUnsafeMutablePointerToHeader { $0.pointee.isLineSafe } }

    /// Makes the version 2 frame, with `seq` (the message's sequence in its stream),
    /// unless a reader made it before. Call only inside the lock of the ring that holds
    /// this message (``BroadcastReceiver/readBatch(upTo:armingWhenDrained:reserve:finish:)``'s
    /// `finish`): that lock orders the one write before every other reader's read, so
    /// the frame is read without atomics. Every caller passes the same `seq`: a message has one position.
    @inline(__always)
    public func makeVersionTwoFrame(seq: UInt64) {
        let made = storage.withUnsafeMutablePointerToHeader { $0.pointee.versionTwoCount != 0 }
        if !made { makeVersionTwoFrameNow(seq: seq) }
    }

    /// The version 2 frame in one piece, if a reader made it and made it whole (nil: not
    /// made yet, or made as a header alone for a payload over ``wholeFrameLimit``, see
    /// ``versionTwoPieces``). Loads only, so a reader can look without holding a copy;
    /// inside the ring's lock only, as ``makeVersionTwoFrame(seq:)``.
    @inline(__always)
    public var madeWholeVersionTwoFrame: UnsafeRawBufferPointer? {
        storage.withUnsafeMutablePointerToHeader { header in
            header.pointee.versionTwoIsWhole
                ? UnsafeRawBufferPointer(start: header.pointee.versionTwoFrame, count: header.pointee.versionTwoCount) : nil
        }
    }

    /// The frame is `MSG <topic> ` (the version 1 frame's first bytes), `<seq> <size>\n`
    /// (encoded here), and, when whole, the payload and LF (the version 1 frame's last bytes).
    /// Once per message, by its first version 2 reader: kept out of the readers' loop.
    @inline(never)
    private func makeVersionTwoFrameNow(seq: UInt64) {
        storage.withUnsafeMutablePointers { header, elements in
            let offset = header.pointee.payloadOffset
            let tail = UnsafeRawBufferPointer(start: elements + offset, count: header.pointee.count - offset)
            let size = UInt64(max(0, tail.count - 1))
            let whole = tail.count - 1 <= Message.wholeFrameLimit
            withUnsafeTemporaryAllocation(byteCount: WireEncoder.msgV2SuffixMaxCount, alignment: 1) { suffix in
                let suffixStart = WireEncoder.writeMsgV2Suffix(seq: seq, size: size, endingAt: suffix.count, in: suffix)
                let suffixCount = suffix.count - suffixStart
                let headerCount = offset + suffixCount
                let length = headerCount + (whole ? tail.count : 0)
                let frame: UnsafeMutableRawPointer
                if header.pointee.hasVersionTwoRoom {
                    frame = UnsafeMutableRawPointer(elements + header.pointee.count)  // room for `length`, reserved by make
                } else {
                    // malloc itself: `UnsafeMutableRawPointer.allocate` always takes the runtime's aligned
                    // path, posix_memalign (callgrind: about 210 instructions a call against malloc's 100).
                    // Should malloc fail, the runtime's own allocation stops the process as any Swift
                    // allocation would (glibc's free releases either).
                    frame = malloc(length) ?? UnsafeMutableRawPointer.allocate(byteCount: length, alignment: 1)
                }
                frame.copyMemory(from: elements, byteCount: offset)
                if let suffixBase = suffix.baseAddress {
                    (frame + offset).copyMemory(from: suffixBase + suffixStart, byteCount: suffixCount)
                }
                if whole, let source = tail.baseAddress { (frame + headerCount).copyMemory(from: source, byteCount: tail.count) }
                header.pointee.versionTwoIsWhole = whole
                header.pointee.versionTwoFrame = frame
                header.pointee.versionTwoCount = length
                header.pointee.versionTwoFrameCount = whole ? length : length + tail.count
            }
        }
    }

    /// The two pieces of the version 2 frame made earlier by ``makeVersionTwoFrame(seq:)``:
    /// the frame (or its header), and what follows it from the version 1 frame's bytes
    /// (the payload with its LF, or nothing when the frame is whole). Both empty if no frame was made.
    @inline(__always)
    public var versionTwoPieces: (first: UnsafeRawBufferPointer, rest: UnsafeRawBufferPointer) {
        storage.withUnsafeMutablePointers { header, elements in
            let first = UnsafeRawBufferPointer(start: header.pointee.versionTwoFrame, count: header.pointee.versionTwoCount)
            if header.pointee.versionTwoIsWhole || first.isEmpty { return (first, UnsafeRawBufferPointer(start: nil, count: 0)) }
            let offset = header.pointee.payloadOffset
            return (first, UnsafeRawBufferPointer(start: elements + offset, count: header.pointee.count - offset))
        }
    }

    /// The WebSocket opcode every frame of this message goes out with: text when the payload
    /// is UTF-8 (the rest of a frame, `MSG`, the topic and the numbers, is ASCII), binary
    /// otherwise (PROTOCOL.md, "Transports"). Found by the first WebSocket reader and kept:
    /// inside the lock of the ring that holds the message only, as ``makeVersionTwoFrame(seq:)``.
    @inline(__always)
    public var webSocketOpcode: UInt8 {
        let known = storage.withUnsafeMutablePointerToHeader { $0.pointee.webSocketOpcode }
        return known != 0 ? known : findWebSocketOpcode()
    }

    @inline(never)
    private func findWebSocketOpcode() -> UInt8 {
        storage.withUnsafeMutablePointers { header, elements in
            let offset = header.pointee.payloadOffset
            let payload = UnsafeRawBufferPointer(start: elements + offset, count: max(0, header.pointee.count - offset - 1))
            let opcode = UTF8Check.isValid(payload) ? WebSocketFrameEncoder.text : WebSocketFrameEncoder.binary
            header.pointee.webSocketOpcode = opcode
            return opcode
        }
    }

    /// The length of the version 2 frame made earlier (0 if none was).
    @inline(__always)
    public var versionTwoFrameCount: Int {
        storage.withUnsafeMutablePointerToHeader { $0.pointee.versionTwoFrameCount }
    }
}
