// A position in a topic's stream, `<epoch>:<seq>` (PROTOCOL.md, "Streams, epochs and positions").

/// A position in a stream: the stream's epoch and a sequence in it, written `<epoch>:<seq>`.
///
/// Guarantees: a position made by ``init(parsing:)`` has a valid epoch
/// (``Names/isValidEpoch(_:)``: 1 to 32 characters of `[0-9a-z]`) and a sequence that
/// was written in 1 to 20 digits. The memberwise initializer takes any value, and
/// ``encode(into:)`` writes what it holds, so encoding a position with an invalid epoch
/// yields text the parser refuses. A value type: any thread.
public struct StreamPosition: Hashable, Sendable, CustomStringConvertible {
    /// The stream's epoch (`[0-9a-z]`, 1 to 32 characters, when valid).
    public var epoch: [UInt8]
    /// The sequence in that stream: 0 is the position before the first message.
    public var seq: UInt64

    public init(epoch: [UInt8], seq: UInt64) {
        self.epoch = epoch
        self.seq = seq
    }

    /// Convenience for text: `StreamPosition(epoch: "k3x9", seq: 12)`.
    public init(epoch: String, seq: UInt64) {
        self.init(epoch: Array(epoch.utf8), seq: seq)
    }

    /// Parses `<epoch>:<seq>`; nil unless the epoch is valid and the sequence is 1 to 20
    /// digits below 2^64.
    public init?(parsing text: UnsafeRawBufferPointer) {
        guard let (epoch, seq) = StreamPosition.components(of: text) else { return nil }
        self.init(epoch: Array(epoch), seq: seq)
    }

    /// Parses `<epoch>:<seq>` held in an array.
    public init?(parsing text: [UInt8]) {
        guard let position = text.withUnsafeBytes({ StreamPosition(parsing: $0) }) else { return nil }
        self = position
    }

    /// The parts of `<epoch>:<seq>` without copying: the epoch points into `text`.
    /// Nil unless the epoch is valid and the sequence is 1 to 20 digits below 2^64.
    public static func components(of text: UnsafeRawBufferPointer) -> (epoch: UnsafeRawBufferPointer, seq: UInt64)? {
        guard let colon = text.firstIndex(of: StreamPosition.separator, from: 0) else { return nil }
        let epoch = text.slice(0..<colon)
        guard Names.isValidEpoch(epoch), let seq = Decimal.parse(text.slice((colon + 1)..<text.count)) else { return nil }
        return (epoch, seq)
    }

    /// `:` (0x3A): separates the epoch from the sequence.
    public static let separator: UInt8 = 0x3A

    /// Appends `<epoch>:<seq>`, with no space or LF around it.
    public func encode(into buffer: inout [UInt8]) {
        WireEncoder.appendPosition(epoch: epoch, seq: seq, to: &buffer)
    }

    /// `<epoch>:<seq>` as text.
    public var description: String {
        var buffer: [UInt8] = []
        encode(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
