/// A growable FIFO ring of values, used inside a channel's locked state.
///
/// Not thread-safe by itself. Push and pop are O(1) with no copy-on-write
/// check (the storage is a manually managed buffer); it only allocates when it
/// has to grow past its current storage (never, for a bounded channel whose
/// storage was reserved up front).
///
/// `@unchecked Sendable` invariant: a `RingBuffer` is never copied (it lives
/// in one channel state inside one `PthreadLock`), is only touched under that
/// lock, and its owner calls ``destroy()`` exactly once, from its deinit.
@usableFromInline
struct RingBuffer<T: Sendable>: @unchecked Sendable {
    /// `capacity` slots; `count` of them, from `head` on (wrapping), are initialized.
    @usableFromInline var storage: UnsafeMutablePointer<T>
    /// Slots allocated: a power of two.
    @usableFromInline var capacity: Int
    /// Slot of the first value.
    @usableFromInline var head = 0
    /// Values held.
    @usableFromInline var count = 0

    init(reserving wanted: Int) {
        var c = 1
        while c < max(wanted, 1) { c <<= 1 }
        capacity = c
        storage = .allocate(capacity: c)
    }

    @inlinable
    var isEmpty: Bool { count == 0 }

    @inlinable @inline(__always)
    mutating func append(_ value: T) {
        if count == capacity { grow() }
        (storage + ((head &+ count) & (capacity &- 1))).initialize(to: value)
        count &+= 1
    }

    @inlinable @inline(__always)
    mutating func popFirst() -> T? {
        if count == 0 { return nil }
        let v = (storage + head).move()
        head = (head &+ 1) & (capacity &- 1)
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

    /// Releases the values still held and the storage.
    mutating func destroy() {
        while popFirst() != nil {}
        storage.deallocate()
    }

    @inlinable
    mutating func grow() {
        let bigger = UnsafeMutablePointer<T>.allocate(capacity: capacity * 2)
        for k in 0..<count { (bigger + k).initialize(to: (storage + ((head + k) & (capacity - 1))).move()) }
        storage.deallocate()
        storage = bigger
        capacity *= 2
        head = 0
    }
}
