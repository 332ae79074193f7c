import Locks

/// One ring slot: the position it was written for, how many receivers still
/// have to read it, and the value (nil once every receiver read it).
@usableFromInline
struct BroadcastSlot<T: Sendable>: Sendable {
    /// The position this slot was last written for (`.max`: never).
    @usableFromInline var pos: UInt64
    /// Receivers that still have to read it.
    @usableFromInline var rem: Int
    /// The value; nil once every receiver read it.
    @usableFromInline var value: T?

    @usableFromInline
    init(pos: UInt64, rem: Int, value: T?) {
        self.pos = pos
        self.rem = rem
        self.value = value
    }
}

/// The outcome of one read attempt under the lock.
@usableFromInline
enum BroadcastRead<T> {
    case value(T)
    case lagged(UInt64)
    case empty
    case closed
}

/// The locked state of a broadcast channel. Only accessed inside
/// `BroadcastShared.state.withLock`.
///
/// `@unchecked Sendable` invariant: `slots` is a buffer owned by this state
/// alone (never copied: the state lives in one `PthreadLock`), only touched
/// under that lock, and freed once by `destroy()` from the channel's deinit.
@usableFromInline
struct BroadcastState<T: Sendable>: @unchecked Sendable {
    /// The ring's storage: `physical` slots, a manually managed buffer so
    /// that slot writes need no copy-on-write uniqueness check. It starts small
    /// and doubles (up to `capacity`) only when a send would otherwise
    /// overwrite a value some receiver has not read, so an idle or keeping-up
    /// channel costs a few slots, not `capacity`.
    @usableFromInline var slots: UnsafeMutablePointer<BroadcastSlot<T>>
    /// Slots allocated now: a power of two, at most `capacity`.
    @usableFromInline var physical: Int
    /// `physical - 1`: position `p` lives in slot `p & mask`.
    @usableFromInline var mask: Int
    /// The channel's capacity: how far behind a receiver may fall before it lags.
    @usableFromInline let capacity: UInt64
    /// Position the next send writes.
    @usableFromInline var tail: UInt64 = 0
    /// Live receivers: the claim count a send gives its slot.
    @usableFromInline var receiverCount = 0
    /// Open sender handles; the last one to close closes the channel.
    @usableFromInline var senderCount = 1
    /// No send stores anything any more (last sender gone, or closed when drained).
    @usableFromInline var closed = false
    /// One node per receiver (allocated at subscribe, freed at deinit); the
    /// node's `cursor` is that receiver's next position to read.
    @usableFromInline var waiters = WaiterList()

    init(capacity: Int) {
        physical = min(capacity, 2)
        slots = .allocate(capacity: physical)
        slots.initialize(repeating: BroadcastSlot(pos: .max, rem: 0, value: nil), count: physical)
        mask = physical - 1
        self.capacity = UInt64(capacity)
    }

    /// Frees the ring and the waiter slab (values still held are released).
    func destroy() {
        slots.deinitialize(count: physical)
        slots.deallocate()
        waiters.destroy()
    }

    /// Doubles the storage, moving every slot to its place under the new mask.
    /// Called by a send that would overwrite a value still owed to a receiver
    /// while `physical < capacity`; the live positions are the last `physical`
    /// ones before `tail`, so they stay distinct under the larger mask.
    @inlinable
    mutating func grow() {
        let larger = physical * 2
        let newSlots = UnsafeMutablePointer<BroadcastSlot<T>>.allocate(capacity: larger)
        newSlots.initialize(repeating: BroadcastSlot(pos: .max, rem: 0, value: nil), count: larger)
        let newMask = larger - 1
        for index in 0..<physical {
            let slot = (slots + index).move()
            if slot.pos != .max {
                newSlots[Int(truncatingIfNeeded: slot.pos) & newMask] = slot
            }
        }
        slots.deallocate()
        slots = newSlots
        physical = larger
        mask = newMask
    }

    /// Reads one value (or lag/empty/closed) for receiver node `id`.
    @inlinable @inline(__always)
    mutating func read(_ id: Int32) -> BroadcastRead<T> {
        let cursor = waiters.nodes[Int(id)].cursor
        if cursor == tail { return closed ? .closed : .empty }
        if let missed = catchUp(id) { return .lagged(missed) }
        waiters.nodes[Int(id)].cursor = cursor &+ 1
        return .value(take(Int(truncatingIfNeeded: cursor) & mask))
    }

    /// If receiver node `id` was overrun, moves its cursor to the oldest value
    /// still held and returns how many it missed; else nil.
    @inlinable @inline(__always)
    mutating func catchUp(_ id: Int32) -> UInt64? {
        let cursor = waiters.nodes[Int(id)].cursor
        guard tail &- cursor > capacity else { return nil }
        let oldest = tail &- capacity
        waiters.nodes[Int(id)].cursor = oldest
        return oldest &- cursor
    }

    /// Hands the next `n` values of receiver node `id` to `store`, in order
    /// (each through ``take(_:)``), and advances its cursor; returns the cursor.
    @inlinable @inline(__always)
    mutating func take(_ n: Int, for id: Int32, _ store: (Int, T) -> Void) -> UInt64 {
        var p = waiters.nodes[Int(id)].cursor
        for k in 0..<n {
            store(k, take(Int(truncatingIfNeeded: p) & mask))
            p &+= 1
        }
        waiters.nodes[Int(id)].cursor = p
        return p
    }

    /// Takes this receiver's copy of slot `idx`: the last reader moves the value
    /// out (no refcount operation, and the slot is released), others copy it.
    @inlinable @inline(__always)
    mutating func take(_ idx: Int) -> T {
        slots[idx].rem -= 1
        if slots[idx].rem == 0 {
            // The slot's value is non-nil while rem > 0 (every receiver counted in
            // rem has not read it yet, and an overwrite resets rem).
            return slots[idx].value.take().unsafelyUnwrapped
        }
        return slots[idx].value.unsafelyUnwrapped
    }

    /// Gives up receiver `id`'s claim on every value it has not read yet.
    /// Values whose last claim this was are appended to `released`.
    mutating func releaseClaims(_ id: Int32, into released: inout [T]) {
        var p = waiters.nodes[Int(id)].cursor
        if tail &- p > UInt64(physical) { p = tail &- UInt64(physical) }
        while p != tail {
            let idx = Int(truncatingIfNeeded: p) & mask
            if slots[idx].pos == p {
                slots[idx].rem -= 1
                if slots[idx].rem == 0, let v = slots[idx].value.take() {
                    released.append(v)
                }
            }
            p &+= 1
        }
    }
}

/// The storage shared by every sender and receiver handle of one broadcast
/// channel. All mutable state is inside `state` (a `PthreadLock`), so the class is
/// `Sendable` without `@unchecked`.
///
/// Its hot paths (send, and the reads in ``BroadcastReceiver``) are inlinable so
/// that the modules using a channel get them specialized for their value type.
@usableFromInline
final class BroadcastShared<T: Sendable>: Sendable {
    /// Every mutable field of the channel, behind one mutex.
    @usableFromInline let state: PthreadLock<BroadcastState<T>>
    /// The capacity (a power of two).
    @usableFromInline let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        state = PthreadLock(BroadcastState(capacity: capacity))
    }

    deinit { state.withLock { $0.destroy() } }

    // MARK: senders

    /// Stores `value` (if anyone listens) and wakes the receivers that waited.
    @inlinable
    func send(_ value: T) -> Int {
        withUnsafeTemporaryAllocation(of: Waiter.self, capacity: wakeBatchSize) { buf in
            let (count, old, woken, rest) = state.withLock { s -> (Int, T?, Int, Int32) in
                let n = s.receiverCount
                if n == 0 || s.closed { return (0, nil, 0, -1) }
                var idx = Int(truncatingIfNeeded: s.tail) & s.mask
                while s.slots[idx].rem > 0 && s.physical < Int(s.capacity) {
                    s.grow()  // the slot is still owed to a receiver: make room instead of overwriting
                    idx = Int(truncatingIfNeeded: s.tail) & s.mask
                }
                let old = s.slots[idx].value.take()
                s.slots[idx].pos = s.tail
                s.slots[idx].rem = n
                s.slots[idx].value = value
                s.tail &+= 1
                if s.waiters.isMainEmpty { return (n, old, 0, -1) }
                let w = s.waiters.pop(from: 0, into: buf)
                let rest = s.waiters.detachAll()
                return (n, old, w, rest)
            }
            _ = old  // an overwritten value is released here, outside the lock
            fireAndClear(buf, woken)
            if rest >= 0 { drainDetached(rest, buf) }
            return count
        }
    }

    /// Wakes every waiter of the detached list `sentinel` (see ``wakeDetached(_:in:waiters:using:)``).
    @inlinable
    func drainDetached(_ sentinel: Int32, _ buf: UnsafeMutableBufferPointer<Waiter>) {
        wakeDetached(sentinel, in: state, waiters: \.waiters, using: buf)
    }

    /// Registers one more sender handle; false if the channel already closed.
    func addSender() -> Bool {
        state.withLock { s in
            if s.closed { return false }
            s.senderCount += 1
            return true
        }
    }

    /// Releases one sender handle; the last one closes the channel and wakes
    /// every waiting receiver.
    func releaseSender() {
        withUnsafeTemporaryAllocation(of: Waiter.self, capacity: wakeBatchSize) { buf in
            let rest = state.withLock { s -> Int32 in
                s.senderCount -= 1
                if s.senderCount > 0 || s.closed { return -1 }
                s.closed = true
                return s.waiters.detachAll()
            }
            if rest >= 0 { drainDetached(rest, buf) }
        }
    }

    /// Closes the channel if no value is owed to any receiver (every receiver
    /// has read everything); returns whether the channel is closed now. After
    /// it, sends store nothing and return 0, and waiting receivers are woken to
    /// find `closed`. One lock acquisition; O(slots allocated).
    func closeIfDrained() -> Bool {
        withUnsafeTemporaryAllocation(of: Waiter.self, capacity: wakeBatchSize) { buf in
            let (closed, rest) = state.withLock { s -> (Bool, Int32) in
                if s.closed { return (true, -1) }
                for index in 0..<s.physical where s.slots[index].rem > 0 { return (false, -1) }
                s.closed = true
                return (true, s.waiters.detachAll())
            }
            if rest >= 0 { drainDetached(rest, buf) }
            return closed
        }
    }

    /// Whether the channel is closed (last sender gone, or closed when drained).
    var isClosed: Bool { state.withLock { $0.closed } }

    // MARK: receivers

    /// Creates a receiver node positioned at the tail.
    func addReceiver() -> Int32 {
        state.withLock { s in
            let id = s.waiters.allocate()
            s.waiters.nodes[Int(id)].cursor = s.tail
            s.receiverCount += 1
            return id
        }
    }

    /// Removes receiver `id`: unparks it and releases its claim on unread values.
    func removeReceiver(_ id: Int32) {
        var released: [T] = []
        let w = state.withLock { s -> Waiter in
            let w = s.waiters.unpark(id)
            s.releaseClaims(id, into: &released)
            s.waiters.free(id)
            s.receiverCount -= 1
            return w
        }
        _ = w  // dropped (not fired) outside the lock
        released.removeAll()  // values are released outside the lock
    }

    var receiverCount: Int { state.withLock { $0.receiverCount } }

    /// Number of parked waiters (async receivers and armed wakers), for tests.
    var parkedCount: Int { state.withLock { $0.waiters.linkedCount } }
}
