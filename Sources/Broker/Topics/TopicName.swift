// A topic's name as the key of the store's table.

/// A topic's name as a dictionary key: its bytes, hashed in one call (an array of bytes hashes
/// itself byte by byte) and compared word by word (``Topic/sameBytes(_:_:count:)``).
///
/// A value; the store keeps one whose bytes it refills for lookups by a borrowed name, so a
/// publish to a topic the connection did not publish to last allocates nothing to find it.
struct TopicName: Hashable, Sendable {
    var bytes: [UInt8]

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    static func == (lhs: TopicName, rhs: TopicName) -> Bool {
        lhs.bytes.withUnsafeBytes { left in
            rhs.bytes.withUnsafeBytes { right in
                guard left.count == right.count else { return false }
                guard let a = left.baseAddress, let b = right.baseAddress else { return left.count == 0 }
                return Topic.sameBytes(a, b, count: left.count)
            }
        }
    }
}
