// The parked consumers of a channel (an index-linked list in its locked state) and how they are woken.
import Locks

/// Something a channel calls, outside its lock, after values (or a close)
/// became available to a consumer that armed it.
///
/// The channel calls `wake()` at most once per arming, from whatever thread
/// performed the send or close, never while holding a channel lock. An
/// implementation must be cheap and must not block (typically it writes to an
/// eventfd or sets a flag); it may call back into the channel (for example
/// `tryRecv()` or `readBatch(into:)`) without deadlocking.
/// Used by ``BroadcastReceiver/armWaker(_:)`` and ``MpscReceiver/armWaker(_:)``.
public protocol BroadcastWaker: AnyObject, Sendable {
    /// Called once after the arming that registered this waker was satisfied.
    func wake()
}

/// What a parked consumer is waiting with.
@usableFromInline
enum Waiter: Sendable {
    case none
    /// A suspended task; resumed exactly once.
    case task(UnsafeContinuation<Void, Never>)
    /// An armed non-async consumer; `wake()` is called exactly once.
    case waker(any BroadcastWaker)

    /// Performs the wake-up. Must be called without holding any channel lock.
    @inlinable @inline(__always)
    func fire() {
        switch self {
        case .none: break
        case .task(let c): c.resume()
        case .waker(let w): w.wake()
        }
    }
}

/// An intrusive, index-based, circular doubly linked list of waiters that lives
/// inside a channel's locked state.
///
/// Nodes live in one array (a slab) and link to each other by index, so arming,
/// disarming and waking allocate nothing once the slab has grown to the
/// steady-state number of nodes. Node 0 is the sentinel of the main list;
/// other sentinels can be allocated to detach the whole main list in O(1)
/// (see ``detachAll()``), the way tokio's broadcast moves its waiters into a
/// guarded list before waking them (tokio issue #5923). A node unlinks in
/// O(1) from whichever list it is in, because every list is circular with a
/// sentinel.
///
/// Not thread-safe by itself: only ever touched while the owning channel's
/// `PthreadLock` is held. The slab is a manually managed buffer (no
/// copy-on-write check per access): a `WaiterList` is never copied, and its
/// owner calls ``destroy()`` exactly once, from its deinit.
@usableFromInline
struct WaiterList: @unchecked Sendable {
    /// One slab entry: its links in whichever list holds it, and what it waits with.
    @usableFromInline
    struct Node: Sendable {
        /// Previous node of its list (itself when unlinked).
        // The small fields first, so that they share 16 bytes: a node is 40 bytes, not 48.
        @usableFromInline var prev: Int32
        /// Next node of its list (itself when unlinked).
        @usableFromInline var next: Int32
        /// Free-list link when the node is not allocated.
        @usableFromInline var nextFree: Int32
        /// Whether the node is in a list (main or detached).
        @usableFromInline var linked: Bool
        /// The parked task or armed waker (`.none` when not parked).
        @usableFromInline var waiter: Waiter
        /// Broadcast stores the receiver cursor here (unused otherwise).
        @usableFromInline var cursor: UInt64

        @usableFromInline
        init(prev: Int32, next: Int32, linked: Bool, waiter: Waiter, nextFree: Int32, cursor: UInt64) {
            self.prev = prev
            self.next = next
            self.linked = linked
            self.waiter = waiter
            self.nextFree = nextFree
            self.cursor = cursor
        }
    }

    /// The slab; index 0 is the main list's sentinel. Mutated in place (through
    /// the pointer) by the owning channel, under its lock. Indices come from
    /// `allocate()` only, so they are always in bounds. Only ``allocate()``
    /// replaces the pointer (readable from the channels' inlinable hot paths).
    @usableFromInline var nodes: UnsafeMutablePointer<Node>
    /// Number of nodes linked in any list (main or detached): parked waiters.
    /// Changed only by ``park(_:_:)`` and ``unpark(_:)``.
    @usableFromInline var linkedCount: Int { Int(linkedCountStored) }
    // 32-bit counts (node indices are `Int32`), last: a list is 24 bytes, and the
    // channel state that holds it packs its own small fields after them.
    @usableFromInline var linkedCountStored: Int32 = 0
    /// Nodes the slab has room for.
    private var capacity: Int32
    /// Nodes initialized so far (allocated or on the free list).
    private var used: Int32
    /// First node of the free list, or -1.
    private var freeHead: Int32 = -1

    /// Starts with room for the sentinel and one node: most topics have one
    /// subscriber, and a slab of 8 (384 bytes) was a fifth of an idle
    /// connection's memory (docs/benchmarks.md, "Memory per idle connection").
    /// It doubles when full.
    init() {
        capacity = 2
        nodes = .allocate(capacity: Int(capacity))
        nodes.initialize(to: Node(prev: 0, next: 0, linked: false, waiter: .none, nextFree: -1, cursor: 0))
        used = 1
    }

    /// Releases the slab. Called once by the owning channel's deinit.
    func destroy() {
        nodes.deinitialize(count: Int(used))
        nodes.deallocate()
    }

    @inlinable
    var isMainEmpty: Bool { nodes[0].next == 0 }

    /// Allocates a node (reusing a freed one when possible).
    @usableFromInline
    mutating func allocate() -> Int32 {
        if freeHead >= 0 {
            let i = freeHead
            freeHead = nodes[Int(i)].nextFree
            nodes[Int(i)] = Node(prev: i, next: i, linked: false, waiter: .none, nextFree: -1, cursor: 0)
            return i
        }
        if used == capacity {
            let bigger = UnsafeMutablePointer<Node>.allocate(capacity: Int(capacity) * 2)
            bigger.moveInitialize(from: nodes, count: Int(used))
            nodes.deallocate()
            nodes = bigger
            capacity *= 2
        }
        let i = used
        (nodes + Int(i)).initialize(to: Node(prev: i, next: i, linked: false, waiter: .none, nextFree: -1, cursor: 0))
        used += 1
        return i
    }

    /// Returns an unlinked node to the free list.
    @usableFromInline
    mutating func free(_ i: Int32) {
        nodes[Int(i)].waiter = .none
        nodes[Int(i)].linked = false
        nodes[Int(i)].nextFree = freeHead
        freeHead = i
    }

    /// Stores `waiter` in node `i` and links it at the back of the main list if
    /// it is not linked yet. Returns the waiter it replaced (to be dropped, not
    /// fired, by the caller outside the lock).
    @inlinable @discardableResult
    mutating func park(_ i: Int32, _ waiter: Waiter) -> Waiter {
        let old = nodes[Int(i)].waiter
        nodes[Int(i)].waiter = waiter
        if !nodes[Int(i)].linked {
            let last = nodes[0].prev
            nodes[Int(i)].prev = last
            nodes[Int(i)].next = 0
            nodes[Int(last)].next = i
            nodes[0].prev = i
            nodes[Int(i)].linked = true
            linkedCountStored += 1
        }
        return old
    }

    /// Unlinks node `i` from whatever list holds it and returns its waiter.
    @inlinable
    mutating func unpark(_ i: Int32) -> Waiter {
        guard nodes[Int(i)].linked else { return .none }
        let p = nodes[Int(i)].prev, n = nodes[Int(i)].next
        nodes[Int(p)].next = n
        nodes[Int(n)].prev = p
        nodes[Int(i)].prev = i
        nodes[Int(i)].next = i
        nodes[Int(i)].linked = false
        linkedCountStored -= 1
        let w = nodes[Int(i)].waiter
        nodes[Int(i)].waiter = .none
        return w
    }

    /// Moves every node of the main list to a new sentinel in O(1) and returns
    /// that sentinel, or -1 if the main list is empty.
    @inlinable
    mutating func detachAll() -> Int32 {
        if isMainEmpty { return -1 }
        let s = allocate()
        let first = nodes[0].next, last = nodes[0].prev
        nodes[Int(s)].next = first
        nodes[Int(s)].prev = last
        nodes[Int(first)].prev = s
        nodes[Int(last)].next = s
        nodes[0].next = 0
        nodes[0].prev = 0
        nodes[Int(s)].linked = true  // a sentinel is never free while in use
        return s
    }

    /// Pops up to `buffer.count` waiters from the list whose sentinel is `s`
    /// into `buffer` (initializing it). Returns how many were popped.
    @inlinable
    mutating func pop(from s: Int32, into buffer: UnsafeMutableBufferPointer<Waiter>) -> Int {
        var n = 0
        while n < buffer.count {
            let i = nodes[Int(s)].next
            if i == s { break }
            let w = unpark(i)
            buffer.initializeElement(at: n, to: w)
            n += 1
        }
        return n
    }

    /// Whether the list whose sentinel is `s` is empty.
    @inlinable
    func isEmpty(_ s: Int32) -> Bool { nodes[Int(s)].next == s }
}

/// Number of waiters a channel wakes per lock release: bounded, so that waking
/// needs only a small stack buffer and never allocates. A computed constant, so
/// that code inlined into other modules sees 32 at compile time (a stored
/// global would be a load there, and a stack allocation of unknown size).
@inlinable
var wakeBatchSize: Int { 32 }

/// Fires the first `count` waiters of `buffer` and deinitializes them.
/// Must be called without holding any channel lock.
@inlinable @inline(__always)
func fireAndClear(_ buffer: UnsafeMutableBufferPointer<Waiter>, _ count: Int) {
    var k = 0
    while k < count {
        buffer[k].fire()
        k += 1
    }
    if count > 0 {
        _ = buffer.extracting(0..<count).deinitialize()
    }
}

/// Wakes, in batches of `buffer.count` with the lock released between them,
/// every waiter of the detached list whose sentinel is `sentinel`, then frees
/// the sentinel. Shared by the channels whose state keeps a `WaiterList` at
/// `waiters`: no waker runs while the lock is held, and each batch holds the
/// lock only to unlink it.
@inlinable
func wakeDetached<State: Sendable>(
    _ sentinel: Int32, in lock: PthreadLockStorage<State>, waiters: WritableKeyPath<State, WaiterList>,
    using buffer: UnsafeMutableBufferPointer<Waiter>
) {
    var done = false
    while !done {
        let count = lock.withLock { state -> Int in
            let count = state[keyPath: waiters].pop(from: sentinel, into: buffer)
            if state[keyPath: waiters].isEmpty(sentinel) {
                state[keyPath: waiters].free(sentinel)
                done = true
            }
            return count
        }
        fireAndClear(buffer, count)
    }
}
