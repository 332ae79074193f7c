// The store's topics by name: an open-addressing table whose keys are the topics' own names.

/// The topics of a store, found by name.
///
/// Open addressing with linear probing over a power-of-two array of entries, each a
/// topic and its name's 64-bit hash (the standard library's seeded hasher, so a client
/// cannot choose names that collide). A lookup compares hashes in the table, then the
/// name inside the one topic whose hash matched: it touches the table and that topic,
/// nothing else. A `[name: Topic]` dictionary also loaded a key object per lookup
/// and retained and released it (callgrind's cache simulation, fanbench `topics`: about
/// 3 of the 29 cache misses per message were the dictionary's).
///
/// Removal shifts the entries after the removed one back into the gap (no tombstones),
/// so probe runs stay as short as the load allows; the table doubles past 3/4 full.
///
/// A value; the store keeps it under its lock.
struct TopicTable {
    private struct Entry {
        /// The name's hash, never 0; 0 marks an empty entry.
        var hash: UInt64
        var topic: Topic?
    }

    private var entries: [Entry]
    private var mask: Int
    /// Topics held.
    private(set) var count = 0

    init() {
        entries = Array(repeating: Entry(hash: 0, topic: nil), count: 16)
        mask = 15
    }

    /// The name's hash as stored (0 is kept for empty entries).
    static func hash(_ name: UnsafeRawBufferPointer) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(bytes: name)
        let value = UInt64(bitPattern: Int64(hasher.finalize()))
        return value == 0 ? 1 : value
    }

    /// The topic called `name`, if any.
    func topic(named name: UnsafeRawBufferPointer) -> Topic? {
        index(of: name).flatMap { entries[$0].topic }
    }

    /// Where the topic called `name` is, if it is here: the one probe of lookups and removals.
    private func index(of name: UnsafeRawBufferPointer) -> Int? {
        let hash = TopicTable.hash(name)
        return entries.withUnsafeBufferPointer { entries in
            var index = Int(truncatingIfNeeded: hash) & mask
            while true {
                let stored = entries[index].hash
                if stored == 0 { return nil }
                if stored == hash, let topic = entries[index].topic, topic.hasName(name) { return index }
                index = (index + 1) & mask
            }
        }
    }

    /// The topic called `name`, if any.
    subscript(name: [UInt8]) -> Topic? {
        name.withUnsafeBytes { topic(named: $0) }
    }

    /// Adds `topic` under its own name, which no topic in the table has.
    mutating func insert(_ topic: Topic) {
        if (count + 1) * 4 > entries.count * 3 { grow() }
        let hash = topic.name.withUnsafeBytes { TopicTable.hash($0) }
        place(Entry(hash: hash, topic: topic))
        count += 1
    }

    /// Removes the topic called `name`, if any, and returns it.
    @discardableResult
    mutating func remove(named name: [UInt8]) -> Topic? {
        guard let index = name.withUnsafeBytes({ index(of: $0) }) else { return nil }
        let removed = entries[index].topic
        entries[index] = Entry(hash: 0, topic: nil)
        count -= 1
        // Backward shift: each later entry of the run moves into the gap unless its home
        // lies cyclically after the gap and at or before where it is.
        var gap = index
        var next = (index + 1) & mask
        while entries[next].hash != 0 {
            let home = Int(truncatingIfNeeded: entries[next].hash) & mask
            let staysPut = gap <= next ? (home > gap && home <= next) : (home > gap || home <= next)
            if !staysPut {
                entries[gap] = entries[next]
                entries[next] = Entry(hash: 0, topic: nil)
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
        for entry in entries { if let topic = entry.topic { all.append(topic) } }
        return all
    }

    private mutating func place(_ entry: Entry) {
        var index = Int(truncatingIfNeeded: entry.hash) & mask
        while entries[index].hash != 0 { index = (index + 1) & mask }
        entries[index] = entry
    }

    private mutating func grow() {
        let old = entries
        entries = Array(repeating: Entry(hash: 0, topic: nil), count: old.count * 2)
        mask = entries.count - 1
        for entry in old where entry.hash != 0 { place(entry) }
    }
}
