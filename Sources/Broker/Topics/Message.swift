// One published message, encoded once as its `MSG <topic> <payload>\n` bytes.

/// A message as every subscriber writes it: the complete `MSG` frame, encoded
/// once at publish time in a single allocation (length and bytes together).
///
/// A value type holding one reference: copying it is one retain. The bytes are
/// immutable after ``make(topic:payload:)`` returns and stay at the same
/// address while any copy exists, so a writer may point an iovec at them while
/// it holds a copy.
public struct Message: @unchecked Sendable {
    // @unchecked Sendable: the storage's bytes are written once inside `make`,
    // before the value is shared, and never again; its header is immutable.

    /// Tail-allocated storage: the header is the frame length.
    final class Storage: ManagedBuffer<Int, UInt8> {}

    let storage: Storage

    /// Encodes `MSG <topic> <payload>\n` into a new message.
    public static func make(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer) -> Message {
        let length = 4 + topic.count + 1 + payload.count + 1
        let storage = unsafeDowncast(Storage.create(minimumCapacity: length) { _ in length }, to: Storage.self)
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

    /// An empty message, used to fill scratch buffers.
    public static var placeholder: Message {
        Message(storage: unsafeDowncast(Storage.create(minimumCapacity: 0) { _ in 0 }, to: Storage.self))
    }

    // The header is read through its pointer: `storage.header` is a class stored property
    // (ManagedBuffer's), and each read of it is a run-time exclusivity check, about 76
    // instructions, twice per delivery (docs/bench/callgrind.md).

    /// The frame's length in bytes.
    public var count: Int { storage.withUnsafeMutablePointerToHeader { $0.pointee } }

    /// The frame's bytes; valid while the caller holds this value.
    public var bytes: UnsafeRawBufferPointer {
        storage.withUnsafeMutablePointers { header, elements in UnsafeRawBufferPointer(start: elements, count: header.pointee) }
    }
}
