// A connection's subscriptions by key: one kept inline, more in a table of references.

/// A connection's subscriptions by their key (``CommandCore/subscriptionKey(_:group:)``:
/// the SUB string, and the group after a space).
///
/// Most connections hold one subscription outside any queue group, whose key is its
/// pattern: that one is kept inline, without an allocation (a dictionary of one took
/// 112 bytes of heap). More are kept in ``Many``: those whose key is their pattern (no
/// group) in an open-addressing array of references, 8 bytes a slot (a dictionary of
/// `[UInt8]` keys took 16 bytes a slot at most 3/4 full: about 41 bytes a subscription for
/// a connection of 100, against 10 here), the others in a dictionary by key. The table
/// goes back to inline when one subscription without a group is left.
///
/// A value, like a dictionary (copy-on-write). Loop thread only (its session's).
struct SubscriptionTable {
    private enum Storage {
        case empty
        /// One subscription outside any queue group: its key is its pattern.
        case one(Subscription)
        /// Any number.
        case many(Many)
    }

    /// Two subscriptions or more (or one in a queue group).
    private final class Many {
        /// Subscriptions whose key is their pattern, found by it: linear probing over a
        /// power-of-two array, at most 7/8 full. No hash is stored: a probe compares the
        /// patterns it meets (SUB and UNSUB only look here; the delivery path never does).
        @exclusivity(unchecked) var byPattern: ContiguousArray<Subscription?>
        /// How many `byPattern` holds.
        @exclusivity(unchecked) var patternCount = 0
        /// Subscriptions of a queue group, by key (pattern, space, group).
        var byKey: [[UInt8]: Subscription] = [:]

        init(slots: Int) { byPattern = ContiguousArray(repeating: nil, count: slots) }

        func copy() -> Many {
            let made = Many(slots: byPattern.count)
            made.byPattern = byPattern
            made.patternCount = patternCount
            made.byKey = byKey
            return made
        }

        var count: Int { patternCount + byKey.count }

        private var mask: Int { byPattern.count - 1 }

        private static func home(of pattern: [UInt8]) -> Int {
            var hasher = Hasher()
            pattern.withUnsafeBytes { hasher.combine(bytes: $0) }
            return hasher.finalize()
        }

        /// Where pattern `key` is, or the empty slot that ends its probe run: one probe
        /// for lookups, removals and inserts.
        private func probe(_ key: [UInt8]) -> (index: Int, found: Bool) {
            var index = Many.home(of: key) & mask
            while let subscription = byPattern[index] {
                if subscription.pattern == key { return (index, true) }
                index = (index + 1) & mask
            }
            return (index, false)
        }

        /// The slot holding the subscription of pattern `key`, if any.
        func index(of key: [UInt8]) -> Int? {
            let (index, found) = probe(key)
            return found ? index : nil
        }

        /// Stores a subscription whose key is its pattern (replacing the one of that pattern).
        func insert(_ subscription: Subscription) {
            if (patternCount + 1) * 8 > byPattern.count * 7 {
                let old = byPattern
                byPattern = ContiguousArray(repeating: nil, count: old.count * 2)
                for case let kept? in old { byPattern[probe(kept.pattern).index] = kept }
            }
            let (index, found) = probe(subscription.pattern)
            byPattern[index] = subscription
            if !found { patternCount += 1 }
        }

        /// Removes and returns the subscription of pattern `key`. Backward shift: each later
        /// entry of the run moves into the gap unless its home lies cyclically after the gap
        /// and at or before where it is (no tombstones).
        func remove(_ key: [UInt8]) -> Subscription? {
            guard let index = index(of: key) else { return nil }
            let removed = byPattern[index]
            byPattern[index] = nil
            patternCount -= 1
            var gap = index
            var next = (index + 1) & mask
            while let moving = byPattern[next] {
                let home = Many.home(of: moving.pattern) & mask
                let staysPut = LinearProbing.staysPut(home: home, gap: gap, index: next)
                if !staysPut {
                    byPattern[gap] = moving
                    byPattern[next] = nil
                    gap = next
                }
                next = (next + 1) & mask
            }
            return removed
        }

        /// The one subscription left when it has no group (the table then goes inline).
        var lonePlain: Subscription? {
            guard patternCount == 1, byKey.isEmpty else { return nil }
            return byPattern.first { $0 != nil } ?? nil
        }
    }

    private var storage = Storage.empty

    init() {}

    var count: Int {
        switch storage {
        case .empty: 0
        case .one: 1
        case let .many(many): many.count
        }
    }

    var isEmpty: Bool { count == 0 }

    /// The subscription with this key; setting nil removes it.
    subscript(key: [UInt8]) -> Subscription? {
        get {
            switch storage {
            case .empty: nil
            case let .one(subscription): subscription.pattern == key ? subscription : nil
            case let .many(many): many.index(of: key).flatMap { many.byPattern[$0] } ?? many.byKey[key]
            }
        }
        set {
            if let newValue {
                insert(newValue, forKey: key)
            } else {
                removeValue(forKey: key)
            }
        }
    }

    /// A `Many` this table alone refers to, holding what the table holds now.
    private mutating func uniqueMany() -> Many {
        switch storage {
        case .empty:
            return Many(slots: 8)
        case let .one(existing):
            let many = Many(slots: 8)
            many.insert(existing)
            return many
        case var .many(many):
            storage = .empty  // so that `many` holds the only reference, unless a copy of the table does
            if !isKnownUniquelyReferenced(&many) { many = many.copy() }
            return many
        }
    }

    /// Stores `subscription` under `key`, replacing the one there was.
    private mutating func insert(_ subscription: Subscription, forKey key: [UInt8]) {
        if subscription.pattern == key {
            switch storage {
            case .empty:
                storage = .one(subscription)
                return
            case let .one(existing) where existing.pattern == key:
                storage = .one(subscription)
                return
            default: break
            }
        }
        let many = uniqueMany()
        if subscription.pattern == key {
            many.byKey.removeValue(forKey: key)  // a key is one or the other
            many.insert(subscription)
        } else {
            _ = many.remove(key)
            many.byKey[key] = subscription
        }
        storage = .many(many)
    }

    /// Removes and returns the subscription with this key, if there is one.
    @discardableResult
    mutating func removeValue(forKey key: [UInt8]) -> Subscription? {
        switch storage {
        case .empty:
            return nil
        case let .one(subscription):
            guard subscription.pattern == key else { return nil }
            storage = .empty
            return subscription
        case let .many(many):
            guard many.index(of: key) != nil || many.byKey[key] != nil else { return nil }
            let unique = uniqueMany()
            let removed = unique.remove(key) ?? unique.byKey.removeValue(forKey: key)
            if let lone = unique.lonePlain {
                storage = .one(lone)
            } else if unique.count > 0 {
                storage = .many(unique)
            }
            return removed
        }
    }

    mutating func removeAll() {
        storage = .empty
    }

    /// Calls `body` with every subscription and its key, in no particular order.
    func forEachKeyed(_ body: ([UInt8], Subscription) -> Void) {
        switch storage {
        case .empty: break
        case let .one(subscription): body(subscription.pattern, subscription)
        case let .many(many):
            for case let subscription? in many.byPattern { body(subscription.pattern, subscription) }
            for (key, subscription) in many.byKey { body(key, subscription) }
        }
    }

    /// Calls `body` with every subscription, in no particular order.
    func forEach(_ body: (Subscription) -> Void) {
        forEachKeyed { _, subscription in body(subscription) }
    }
}
