/// A growable FIFO ring of values, used inside a channel's locked state.
/// Not thread-safe by itself. Push and pop are O(1); it only allocates when it
/// has to grow past its current storage (never, for a bounded channel whose
/// storage was reserved up front).
struct RingBuffer<T: Sendable>: Sendable {
    private var storage: ContiguousArray<T?>
    private var head = 0
    private(set) var count = 0

    init(reserving capacity: Int) {
        var c = 1
        while c < max(capacity, 1) { c <<= 1 }
        storage = ContiguousArray(repeating: nil, count: c)
    }

    var isEmpty: Bool { count == 0 }

    mutating func append(_ value: T) {
        if count == storage.count { grow() }
        storage[(head &+ count) & (storage.count &- 1)] = value
        count &+= 1
    }

    mutating func popFirst() -> T? {
        if count == 0 { return nil }
        let v = storage[head].take()
        head = (head &+ 1) & (storage.count &- 1)
        count &-= 1
        return v
    }

    /// Removes and returns every value (to be released outside the lock).
    mutating func removeAll() -> [T] {
        var out: [T] = []
        out.reserveCapacity(count)
        while let v = popFirst() { out.append(v) }
        return out
    }

    private mutating func grow() {
        var bigger = ContiguousArray<T?>(repeating: nil, count: storage.count * 2)
        for k in 0..<count { bigger[k] = storage[(head + k) & (storage.count - 1)].take() }
        storage = bigger
        head = 0
    }
}
