// Test helpers: owned framer events, feeding in chunks, a seeded generator.
import Protocol

/// A framer event that owns its bytes, for comparisons.
enum OwnedEvent: Equatable, CustomStringConvertible {
    case line(String)
    case tooLong
    case payload([UInt8])
    case skipped
    case badFraming

    init(_ event: FramerEvent) {
        switch event {
        case let .line(bytes): self = .line(String(decoding: bytes, as: UTF8.self))
        case .lineTooLong: self = .tooLong
        case let .payload(bytes): self = .payload(Array(bytes))
        case .payloadSkipped: self = .skipped
        case .badFraming: self = .badFraming
        }
    }

    var description: String {
        switch self {
        case let .line(text): "line(\(text.debugDescription))"
        case .tooLong: "tooLong"
        case let .payload(bytes) where bytes.count <= 64: "payload(\(String(decoding: bytes, as: UTF8.self).debugDescription))"
        case let .payload(bytes): "payload(\(bytes.count) bytes)"
        case .skipped: "skipped"
        case .badFraming: "badFraming"
        }
    }
}

/// Feeds `input` to a new framer in chunks of the given sizes (the last size repeats).
func frame(_ input: [UInt8], max: Int = 64, chunkSizes: [Int] = [Int.max]) -> [OwnedEvent] {
    var framer = LineFramer(maxLineBytes: max)
    var events: [OwnedEvent] = []
    var offset = 0
    var sizeIndex = 0
    while offset < input.count {
        let size = min(chunkSizes[min(sizeIndex, chunkSizes.count - 1)], input.count - offset)
        sizeIndex += 1
        _ = input[offset..<(offset + size)].withUnsafeBytes { chunk in
            framer.feed(chunk) { event in
                events.append(OwnedEvent(event))
                return .proceed
            }
        }
        offset += size
    }
    return events
}

func frame(_ text: String, max: Int = 64, chunkSizes: [Int] = [Int.max]) -> [OwnedEvent] {
    frame(Array(text.utf8), max: max, chunkSizes: chunkSizes)
}

/// Parses a client line given as text.
func parse(_ line: String) -> Result<Command, ProtocolError> {
    Result { () throws(ProtocolError) in try CommandParser.parse(Array(line.utf8)) }
}

/// The error code a line is refused with, or nil when it parses.
func errorCode(_ line: String) -> ErrorCode? {
    if case let .failure(error) = parse(line) { return error.code }
    return nil
}

/// Whether `pattern` matches `topic` (both as text).
func matches(_ pattern: String, _ topic: String) -> Bool {
    Array(pattern.utf8).withUnsafeBytes { p in
        Array(topic.utf8).withUnsafeBytes { t in Names.matches(pattern: p, topic: t) }
    }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A small deterministic generator (SplitMix64), so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Parses a client line given as text, in `version`.
func parse(_ line: String, version: Int) -> Result<Command, ProtocolError> {
    Result { () throws(ProtocolError) in try CommandParser.parse(Array(line.utf8), version: version) }
}

/// The error a line is refused with in `version`, or nil when it parses.
func refusal(_ line: String, version: Int) -> ProtocolError? {
    if case let .failure(error) = parse(line, version: version) { return error }
    return nil
}

/// The error code a line is refused with in `version`, or nil when it parses.
func errorCode(_ line: String, version: Int) -> ErrorCode? {
    refusal(line, version: version)?.code
}

/// The borrowed view of a line, copied into plain values: (case name, topic/pattern, number, refusal).
enum ParsedView: Equatable {
    case binaryPublish(topic: String, size: UInt64, refusal: TopicRefusal?)
    case other(Command)
    case failure(ProtocolError)
}

func parseView(_ line: String, version: Int = 1) -> ParsedView {
    Array(line.utf8).withUnsafeBytes { bytes in
        do throws(ProtocolError) {
            let view = try CommandParser.parse(bytes, version: version)
            if case let .binaryPublish(topic, size, refusal) = view {
                return .binaryPublish(topic: String(decoding: topic, as: UTF8.self), size: size, refusal: refusal)
            }
            return .other(Command(view))
        } catch {
            return .failure(error)
        }
    }
}
