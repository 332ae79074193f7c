// The index of wildcard subscriptions: a trie of levels, as NATS's sublist.
import Protocol

/// Finds the wildcard subscriptions that match a concrete topic in
/// O(levels + matches), whatever the number of patterns.
///
/// Not thread-safe: the registry guards it with its lock.
struct PatternIndex: @unchecked Sendable {
    // @unchecked Sendable: the trie's nodes are classes, reached only through
    // the registry's lock (`TopicRegistry.state`), so no two threads touch them at once.
    /// One level of the trie.
    final class Node {
        /// Children by literal level.
        var literal: [[UInt8]: Node] = [:]
        /// The child for a `*` level.
        var star: Node?
        /// Subscriptions whose pattern ends with `>` right after this node.
        var greater: [Subscription] = []
        /// Subscriptions whose pattern ends exactly at this node.
        var terminal: [Subscription] = []

        var isEmpty: Bool { literal.isEmpty && star == nil && greater.isEmpty && terminal.isEmpty }
    }

    private let root = Node()
    /// Number of subscriptions in the index.
    private(set) var count = 0

    /// Splits a name into its levels.
    static func levels(_ name: [UInt8]) -> [ArraySlice<UInt8>] {
        name.split(separator: Names.levelSeparator, omittingEmptySubsequences: false)
    }

    mutating func insert(_ subscription: Subscription) {
        let levels = PatternIndex.levels(subscription.pattern)
        var node = root
        for (index, level) in levels.enumerated() {
            if level.count == 1 && level.first == Names.multiLevelWildcard && index == levels.count - 1 {
                node.greater.append(subscription)
                count += 1
                return
            }
            if level.count == 1 && level.first == Names.singleLevelWildcard {
                if node.star == nil { node.star = Node() }
                node = node.star ?? node
            } else {
                let key = Array(level)
                if let next = node.literal[key] {
                    node = next
                } else {
                    let next = Node()
                    node.literal[key] = next
                    node = next
                }
            }
        }
        node.terminal.append(subscription)
        count += 1
    }

    /// Removes `subscription` and prunes nodes left empty.
    mutating func remove(_ subscription: Subscription) {
        let levels = PatternIndex.levels(subscription.pattern)
        if PatternIndex.remove(subscription, levels: levels[...], from: root) { count -= 1 }
    }

    private static func remove(_ subscription: Subscription, levels: ArraySlice<ArraySlice<UInt8>>, from node: Node) -> Bool {
        guard let level = levels.first else {
            guard let index = node.terminal.firstIndex(where: { $0 === subscription }) else { return false }
            node.terminal.remove(at: index)
            return true
        }
        if levels.count == 1 && level.count == 1 && level.first == Names.multiLevelWildcard {
            guard let index = node.greater.firstIndex(where: { $0 === subscription }) else { return false }
            node.greater.remove(at: index)
            return true
        }
        if level.count == 1 && level.first == Names.singleLevelWildcard {
            guard let star = node.star else { return false }
            let removed = remove(subscription, levels: levels.dropFirst(), from: star)
            if star.isEmpty { node.star = nil }
            return removed
        }
        let key = Array(level)
        guard let child = node.literal[key] else { return false }
        let removed = remove(subscription, levels: levels.dropFirst(), from: child)
        if child.isEmpty { node.literal[key] = nil }
        return removed
    }

    /// Calls `body` for every subscription whose pattern matches `topic`.
    func forEachMatch(_ topic: [UInt8], _ body: (Subscription) -> Void) {
        if count == 0 { return }
        let levels = PatternIndex.levels(topic)
        let reserved = topic.first == Names.reservedPrefix  // no leading wildcard matches it
        PatternIndex.match(levels[...], node: root, atRoot: true, reserved: reserved, body)
    }

    private static func match(
        _ levels: ArraySlice<ArraySlice<UInt8>>, node: Node, atRoot: Bool, reserved: Bool,
        _ body: (Subscription) -> Void
    ) {
        guard let level = levels.first else {
            node.terminal.forEach(body)
            return
        }
        let wildcardsAllowed = !(atRoot && reserved)
        if wildcardsAllowed {
            node.greater.forEach(body)  // `>` takes this level and all after it
            if let star = node.star {
                match(levels.dropFirst(), node: star, atRoot: false, reserved: reserved, body)
            }
        }
        if let child = node.literal[Array(level)] {
            match(levels.dropFirst(), node: child, atRoot: false, reserved: reserved, body)
        }
    }
}
