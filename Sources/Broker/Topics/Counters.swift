// Small atomic wrappers with the orderings their uses need.
import Synchronization

/// A boolean set once (or toggled) by one thread and read by others, with
/// release/acquire ordering so that what was written before `set` is visible
/// after a `isSet` that returns true.
public final class AtomicFlag: Sendable {
    private let value = Atomic<Bool>(false)
    public init() {}
    public func set() { value.store(true, ordering: .releasing) }
    public var isSet: Bool { value.load(ordering: .acquiring) }
}

/// A statistics counter: relaxed increments, read approximately by others.
public final class RelaxedCounter: Sendable {
    private let value = Atomic<UInt64>(0)
    public init() {}
    public func add(_ amount: UInt64) { value.wrappingAdd(amount, ordering: .relaxed) }
    public func subtract(_ amount: UInt64) { value.wrappingSubtract(amount, ordering: .relaxed) }
    public var load: UInt64 { value.load(ordering: .relaxed) }
}
