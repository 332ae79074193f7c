// One published message: its payload stored once, inside its version 1 frame, and its version 2 header made on first need.
import CBrokerShim
import Glibc
import Protocol

/// A message as every subscriber writes it, in either framing, from one allocation.
///
/// - The version 1 frame `MSG <topic> <payload>\n` is encoded once at publish
///   time; it is also where the payload lives. A version 2 frame is the header
///   `MSG <topic> <seq> <size>\n` followed by the same payload bytes and LF, so
///   the header alone is encoded, once, by the first version 2 reader (the
///   sequence is known only once the ring numbered the message); every later
///   reader shares it. So each framing is encoded at most once, and only when used.
/// - ``isLineSafe`` is false for a payload that cannot stand in one line (it holds
///   an LF or ends with CR): such a message has no version 1 frame a reader
///   could use (PROTOCOL.md, "Payloads of any bytes"), though its bytes are stored the same way.
///
/// A value type holding one reference: copying it is one retain. The bytes never
/// move while any copy exists, so a writer may point an iovec at them while it
/// holds a copy. Any thread: the only field written after `make` is the header
/// pointer, published once with an atomic compare-and-swap.
public struct Message: @unchecked Sendable {
    // @unchecked Sendable: the frame bytes are written inside `make`, before the
    // value is shared, and never again; the version 2 header is published once
    // through an atomic word and never changed after.

    /// The fixed part of a message's allocation.
    struct Header {
        /// Length of the version 1 frame.
        var count: Int
        /// Offset of the payload in the frame (`MSG <topic> ` before it).
        var payloadOffset: Int
        /// Whether the payload can be written as one line (no LF, no final CR).
        var isLineSafe: Bool
        /// The version 2 header once made: an allocation `[Int length][bytes]`; nil before.
        var versionTwoHeader: UnsafeMutableRawPointer?
    }

    /// Tail-allocated storage: the header, then the version 1 frame.
    final class Storage: ManagedBuffer<Header, UInt8> {
        deinit {
            withUnsafeMutablePointerToHeader { header in
                header.pointee.versionTwoHeader?.deallocate()
            }
        }
    }

    let storage: Storage

    /// Encodes `MSG <topic> <payload>\n` into a new message. `lineSafe` says whether
    /// the payload can be one line; nil: look (a `PUB` payload always can).
    public static func make(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, lineSafe: Bool? = true) -> Message {
        let length = 4 + topic.count + 1 + payload.count + 1
        let safe = lineSafe ?? Message.canBeOneLine(payload)
        let header = Header(count: length, payloadOffset: 5 + topic.count, isLineSafe: safe, versionTwoHeader: nil)
        let storage = unsafeDowncast(Storage.create(minimumCapacity: length) { _ in header }, to: Storage.self)
        storage.withUnsafeMutablePointerToElements { start in
            let out = UnsafeMutableRawBufferPointer(start: start, count: length)
            out.copyBytes(from: "MSG ".utf8)
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
        let header = Header(count: 0, payloadOffset: 0, isLineSafe: true, versionTwoHeader: nil)
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
    /// (frame, header, and the object's own fields, about 48 bytes).
    public var weight: UInt32 { UInt32(truncatingIfNeeded: min(storage.withUnsafeMutablePointerToHeader { $0.pointee.count } + 48, Int(UInt32.max))) }

    /// Whether the payload can be written as a version 1 `MSG` line.
    public var isLineSafe: Bool { storage.withUnsafeMutablePointerToHeader { $0.pointee.isLineSafe } }

    /// The version 2 header `MSG <topic> <seq> <size>\n`, made by the first caller
    /// (with `seq`, the message's sequence in its stream) and shared by every later
    /// one; valid while the caller holds this value. Every caller must pass the
    /// same `seq`: a message has one position.
    public func versionTwoHeader(seq: UInt64) -> UnsafeRawBufferPointer {
        storage.withUnsafeMutablePointers { header, elements in
            let word = Message.headerWord(header)
            if let made = cbroker_load_acquire(word) { return Message.framed(made) }
            let made = Message.encodeVersionTwoHeader(
                topic: UnsafeRawBufferPointer(start: elements + 4, count: max(0, header.pointee.payloadOffset - 5)),
                seq: seq, size: header.pointee.count - header.pointee.payloadOffset - 1)
            if cbroker_publish_once(word, made) { return Message.framed(made) }
            made.deallocate()  // another reader made it first: use theirs
            return Message.framed(cbroker_load_acquire(word).unsafelyUnwrapped)
        }
    }

    /// The two pieces of the version 2 frame, in one access: the header made earlier
    /// by ``versionTwoHeader(seq:)`` (empty if none was), and the payload with its LF.
    /// The header pointer is read atomically: another reader's compare-and-swap on it
    /// (one that lost the race to make it) may run at the same moment.
    @inline(__always)
    public var versionTwoPieces: (header: UnsafeRawBufferPointer, tail: UnsafeRawBufferPointer) {
        storage.withUnsafeMutablePointers { header, elements in
            let made = cbroker_load_acquire(Message.headerWord(header))
            let offset = header.pointee.payloadOffset
            let tail = UnsafeRawBufferPointer(start: elements + offset, count: header.pointee.count - offset)
            guard let made else { return (UnsafeRawBufferPointer(start: nil, count: 0), tail) }
            return (Message.framed(made), tail)
        }
    }

    /// The length of the version 2 frame (header made earlier, payload, LF).
    @inline(__always)
    public var versionTwoFrameCount: Int {
        storage.withUnsafeMutablePointerToHeader { header in
            let headerCount = cbroker_load_acquire(Message.headerWord(header))?.load(as: Int.self) ?? 0
            return headerCount + header.pointee.count - header.pointee.payloadOffset
        }
    }

    /// The address of the header pointer inside a message's fixed part.
    @inline(__always)
    private static func headerWord(_ header: UnsafeMutablePointer<Header>) -> UnsafeMutablePointer<UnsafeMutableRawPointer?> {
        UnsafeMutableRawPointer(header).advanced(by: MemoryLayout<Header>.offset(of: \Header.versionTwoHeader) ?? 0)
            .assumingMemoryBound(to: Optional<UnsafeMutableRawPointer>.self)
    }

    /// The bytes of a made header: its length word, then the bytes.
    @inline(__always)
    private static func framed(_ made: UnsafeMutableRawPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: made + MemoryLayout<Int>.size, count: made.load(as: Int.self))
    }

    /// Allocates `[Int length]MSG <topic> <seq> <size>\n` (encoded by ``WireEncoder``).
    private static func encodeVersionTwoHeader(topic: UnsafeRawBufferPointer, seq: UInt64, size: Int) -> UnsafeMutableRawPointer {
        let length = WireEncoder.msgV2HeaderCount(topicCount: topic.count, seq: seq, size: UInt64(size))
        // Out of memory stops the process here as any Swift allocation would (a few dozen bytes).
        let made = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<Int>.size + length, alignment: MemoryLayout<Int>.alignment)
        made.storeBytes(of: length, as: Int.self)
        WireEncoder.writeMsgV2Header(topic: topic, seq: seq, size: UInt64(size),
                                     into: UnsafeMutableRawBufferPointer(start: made + MemoryLayout<Int>.size, count: length))
        return made
    }
}
