// The store's topics by name: an open-addressing table whose keys are the topics' own names.

/// The topics of a store, found by name.
///
/// Open addressing with linear probing over a power-of-two array of words, each a
/// reference to a topic with 4 bits of its name's hash in the low bits the reference
/// leaves free (objects are 16-byte aligned): 8 bytes a slot. The hash is the standard
/// library's seeded hasher, so a client cannot choose names that collide. A lookup
/// compares those 4 bits in the table and looks inside a topic only when they match (1 in
/// 16 of the other topics on its probe run), then compares the name: it touches the
/// table and, but rarely, that one topic. A `[name: Topic]` dictionary also loaded a key
/// object per lookup and retained and released it (callgrind's cache simulation, fanbench
/// `topics`: about 3 of the 29 cache misses per message were the dictionary's); the
/// table's first form kept the whole hash beside each reference, 16 bytes a slot (13
/// bytes a topic more at 10,000 topics).
///
/// Removal shifts the entries after the removed one back into the gap (no tombstones),
/// so probe runs stay as short as the load allows; the table doubles past 3/4 full.
///
/// A value (copy-on-write); the store keeps it under its lock.
struct TopicTable: @unchecked Sendable {
    // @unchecked Sendable: the slots are reached only through a table value; a change first
    // makes them the value's own when another value shares them, and topics are Sendable.
    /// The slots, each 0 (empty) or a retained topic's address with its tag; it releases
    /// what it holds when it goes.
    private final class Slots {
        let base: UnsafeMutablePointer<UInt>
        let count: Int

        init(count: Int) {
            base = .allocate(capacity: count)
            base.initialize(repeating: 0, count: count)
            self.count = count
        }

        /// The same topics in slots of their own (each retained once more).
        func copy() -> Slots {
            let made = Slots(count: count)
            for index in 0..<count where base[index] != 0 {
                made.base[index] = base[index]
                _ = TopicTable.unmanaged(base[index]).retain()
            }
            return made
        }

        deinit {
            for index in 0..<count where base[index] != 0 { TopicTable.unmanaged(base[index]).release() }
            base.deallocate()
        }
    }

    private var slots: Slots
    private var mask: Int
    /// Topics held.
    private(set) var count = 0

    /// The low bits of a slot that hold the tag (a topic's address has them clear).
    private static let tagMask: UInt = 0xF

    init() {
        slots = Slots(count: 16)
        mask = 15
    }

    /// The seeded hash of a name.
    static func hash(_ name: UnsafeRawBufferPointer) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(bytes: name)
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }

    /// The 4 bits of `hash` a slot keeps (the top ones: the home slot uses the low ones).
    private static func tag(_ hash: UInt64) -> UInt { UInt(truncatingIfNeeded: hash >> 60) }

    private static func unmanaged(_ slot: UInt) -> Unmanaged<Topic> {
        Unmanaged.fromOpaque(UnsafeRawPointer(bitPattern: slot & ~tagMask).unsafelyUnwrapped)
    }

    private static func home(of topic: Topic, mask: Int) -> Int {
        Int(truncatingIfNeeded: topic.name.withUnsafeBytes { TopicTable.hash($0) }) & mask
    }

    /// The topic called `name`, if any.
    func topic(named name: UnsafeRawBufferPointer) -> Topic? {
        index(of: name).map { TopicTable.unmanaged(slots.base[$0]).takeUnretainedValue() }
    }

    /// Where the topic called `name` is, if it is here: the one probe of lookups and removals.
    private func index(of name: UnsafeRawBufferPointer) -> Int? {
        let hash = TopicTable.hash(name)
        let tag = TopicTable.tag(hash)
        let base = slots.base
        var index = Int(truncatingIfNeeded: hash) & mask
        while true {
            let slot = base[index]
            if slot == 0 { return nil }
            if slot & TopicTable.tagMask == tag,
               TopicTable.unmanaged(slot)._withUnsafeGuaranteedRef({ $0.hasName(name) }) { return index }
            index = (index + 1) & mask
        }
    }

    /// The topic called `name`, if any.
    subscript(name: [UInt8]) -> Topic? {
        name.withUnsafeBytes { topic(named: $0) }
    }

    /// Adds `topic` under its own name, which no topic in the table has.
    mutating func insert(_ topic: Topic) {
        makeUnique()
        if (count + 1) * 4 > slots.count * 3 { grow() }
        let hash = topic.name.withUnsafeBytes { TopicTable.hash($0) }
        let address = UInt(bitPattern: Unmanaged.passRetained(topic).toOpaque())
        precondition(address & TopicTable.tagMask == 0, "a topic's address is 16-byte aligned")
        place(address | TopicTable.tag(hash), home: Int(truncatingIfNeeded: hash) & mask)
        count += 1
    }

    /// Removes the topic called `name`, if any, and returns it.
    @discardableResult
    mutating func remove(named name: [UInt8]) -> Topic? {
        guard let index = name.withUnsafeBytes({ index(of: $0) }) else { return nil }
        makeUnique()
        let base = slots.base
        let removed = TopicTable.unmanaged(base[index]).takeRetainedValue()  // the table's reference, handed over
        base[index] = 0
        count -= 1
        // Backward shift: each later entry of the run moves into the gap unless its home
        // lies cyclically after the gap and at or before where it is.
        var gap = index
        var next = (index + 1) & mask
        while base[next] != 0 {
            let home = TopicTable.unmanaged(base[next])._withUnsafeGuaranteedRef { TopicTable.home(of: $0, mask: mask) }
            let staysPut = LinearProbing.staysPut(home: home, gap: gap, index: next)
            if !staysPut {
                base[gap] = base[next]
                base[next] = 0
                gap = next
            }
            next = (next + 1) & mask
        }
        return removed
    }

    /// Every topic, in no particular order.
    var values: [Topic] {
        var all: [Topic] = []
        all.reserveCapacity(count)
        for index in 0..<slots.count where slots.base[index] != 0 {
            all.append(TopicTable.unmanaged(slots.base[index]).takeUnretainedValue())
        }
        return all
    }

    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&slots) { slots = slots.copy() }
    }

    private func place(_ slot: UInt, home: Int) {
        let base = slots.base
        var index = home
        while base[index] != 0 { index = (index + 1) & mask }
        base[index] = slot
    }

    private mutating func grow() {
        let old = slots
        slots = Slots(count: old.count * 2)
        mask = slots.count - 1
        for index in 0..<old.count where old.base[index] != 0 {
            let slot = old.base[index]
            let home = TopicTable.unmanaged(slot)._withUnsafeGuaranteedRef { TopicTable.home(of: $0, mask: mask) }
            place(slot, home: home)
            old.base[index] = 0  // moved, not released with the old slots
        }
    }
}
