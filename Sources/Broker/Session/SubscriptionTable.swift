// A connection's subscriptions by key: one kept inline, more in a dictionary.

/// A connection's subscriptions by their key (``CommandCore/subscriptionKey(_:group:)``:
/// the SUB string, and the group after a space).
///
/// Most connections hold one subscription outside any queue group, whose key is its
/// pattern: that one is kept inline, without an allocation (a dictionary of one took
/// 112 bytes of heap). Any other case uses a dictionary, as before; the table goes
/// back to inline when one such subscription is left.
///
/// A value, like a dictionary (copy-on-write). Loop thread only (its session's).
struct SubscriptionTable {
    private enum Storage {
        case empty
        /// One subscription outside any queue group: its key is its pattern.
        case one(Subscription)
        /// Any number, by key.
        case many(Many)
    }

    /// The dictionary, boxed: a dictionary leaves an enum no spare bits, and the
    /// table would take two words of every session instead of one.
    private final class Many {
        var byKey: [[UInt8]: Subscription]

        init(_ byKey: [[UInt8]: Subscription]) { self.byKey = byKey }
    }

    private var storage = Storage.empty

    init() {}

    var count: Int {
        switch storage {
        case .empty: 0
        case .one: 1
        case let .many(many): many.byKey.count
        }
    }

    var isEmpty: Bool { count == 0 }

    /// The subscription with this key; setting nil removes it.
    subscript(key: [UInt8]) -> Subscription? {
        get {
            switch storage {
            case .empty: nil
            case let .one(subscription): subscription.pattern == key ? subscription : nil
            case let .many(many): many.byKey[key]
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

    /// Stores `subscription` under `key`, replacing the one there was.
    private mutating func insert(_ subscription: Subscription, forKey key: [UInt8]) {
        switch storage {
        case .empty:
            storage = subscription.pattern == key ? .one(subscription) : .many(Many([key: subscription]))
        case let .one(existing):
            if existing.pattern == key {
                storage = subscription.pattern == key ? .one(subscription) : .many(Many([key: subscription]))
            } else {
                storage = .many(Many([existing.pattern: existing, key: subscription]))
            }
        case var .many(many):
            storage = .empty  // so that `many` holds the only reference, unless a copy of the table does
            if !isKnownUniquelyReferenced(&many) { many = Many(many.byKey) }
            many.byKey[key] = subscription
            storage = .many(many)
        }
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
        case var .many(many):
            guard many.byKey[key] != nil else { return nil }
            storage = .empty
            if !isKnownUniquelyReferenced(&many) { many = Many(many.byKey) }
            let removed = many.byKey.removeValue(forKey: key)
            if many.byKey.count == 1, let (left, subscription) = many.byKey.first, subscription.pattern == left {
                storage = .one(subscription)
            } else if !many.byKey.isEmpty {
                storage = .many(many)
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
        case let .many(many): for (key, subscription) in many.byKey { body(key, subscription) }
        }
    }

    /// Calls `body` with every subscription, in no particular order.
    func forEach(_ body: (Subscription) -> Void) {
        switch storage {
        case .empty: break
        case let .one(subscription): body(subscription)
        case let .many(many): for subscription in many.byKey.values { body(subscription) }
        }
    }
}
