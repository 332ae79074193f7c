import Locks

/// One ring slot: the position it was written for, how many receivers still
/// have to read it, what its value weighs (retaining channels), and the value
/// (nil once every receiver read it, in a channel that does not retain).
@usableFromInline
struct BroadcastSlot<T: Sendable>: Sendable {
    /// The position this slot was last written for (`.max`: never).
    @usableFromInline var pos: UInt64
    /// Receivers that still have to read it.
    @usableFromInline var rem: Int32
    /// The value's weight in bytes, as its sender gave it (retaining channels).
    @usableFromInline var weight: UInt32
    /// The value; nil once every receiver read it.
    @usableFromInline var value: T?

    @usableFromInline
    init(pos: UInt64, rem: Int32, value: T?) {
        self.pos = pos
        self.rem = rem
        self.weight = 0
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
    /// that slot writes need no copy-on-write uniqueness check. None is allocated
    /// until the first send (`physical` 0: `slots` is a placeholder that is never
    /// read, because nothing is held: `tail == start`, or `tail == 0` without
    /// retention); then it starts small and doubles (up to `capacity`) only when a
    /// send would otherwise overwrite a value some receiver has not read, so a
    /// channel that never carried a value costs no slot, and an idle or keeping-up
    /// one a few, not `capacity`.
    @usableFromInline var slots: UnsafeMutablePointer<BroadcastSlot<T>>
    /// Position the next send writes.
    @usableFromInline var tail: UInt64 = 0
    /// Retaining channels only: the oldest position still held. Every position
    /// in `start..<tail` holds its value.
    @usableFromInline var start: UInt64 = 0
    /// Retaining channels: the bytes of the values held (the weights senders gave).
    @usableFromInline var heldBytes = 0
    /// Retaining channels: the most bytes held before the oldest values are dropped.
    @usableFromInline let maxBytes: Int
    /// The positions `finishedFrom..<finishedThrough` were given to a `finish` step
    /// (``BroadcastReceiver/readBatch(upTo:armingWhenDrained:reserve:finish:)``): no
    /// read calls it for them again. One interval, the newest one kept.
    @usableFromInline var finishedFrom: UInt64 = 0
    @usableFromInline var finishedThrough: UInt64 = 0
    /// Retaining channels: where held bytes are also added up across channels (added to
    /// under the lock, with the change it counts).
    @usableFromInline let account: BroadcastByteAccount?
    /// `physical - 1`: position `p` lives in slot `p & mask` (-1 while no slot is allocated).
    @usableFromInline var mask: Int = -1
    // The small fields last, after the waiter list's own 32-bit fields: the state is
    // 110 bytes, and with its mutex and the object's header one allocation of 176
    // bytes of heap (the channel's whole shared part, ``BroadcastShared``). `mask` is a
    // full word: as 32 bits, the read loop sign-extended it for every value
    // (callgrind, N = 16: 4 instructions more per delivery).
    /// One node per receiver (allocated at subscribe, freed at deinit); the
    /// node's `cursor` is that receiver's next position to read.
    @usableFromInline var waiters = WaiterList()
    /// Live receivers (see ``receiverCount``).
    @usableFromInline var receiverCountStored: Int32 = 0
    /// Values kept after every receiver read them (0: none, as in Tokio; see
    /// ``BroadcastRetention``). At most `capacity` (≤ ``Broadcast/maxCapacity``).
    @usableFromInline let retention: Int32
    /// Open sender handles; the last one to close closes the channel.
    @usableFromInline var senderCount: Int32 = 1
    /// No send stores anything any more (last sender gone, or closed when drained).
    @usableFromInline var closed = false
    /// The channel's capacity as a power of two (see ``capacity``).
    @usableFromInline let capacityShift: UInt8

    init(capacity: Int, retention: Int = 0, maxBytes: Int = .max, account: BroadcastByteAccount? = nil) {
        self.retention = Int32(min(retention, capacity))
        self.maxBytes = maxBytes
        self.account = account
        slots = BroadcastState.unallocatedSlots
        assert(capacity > 0 && capacity & (capacity - 1) == 0, "a ring's capacity is a power of two")
        self.capacityShift = UInt8(capacity.trailingZeroBitCount)
    }

    /// Slots allocated now: a power of two, at most `capacity` (0 before the first send).
    @inlinable var physical: Int { mask &+ 1 }
    /// The channel's capacity: how far behind a receiver may fall before it lags
    /// (a power of two, at most ``Broadcast/maxCapacity``).
    @inlinable var capacity: UInt64 { 1 << UInt64(capacityShift) }
    /// Live receivers: the claim count a send gives its slot.
    @inlinable var receiverCount: Int {
        get { Int(receiverCountStored) }
        set { receiverCountStored = Int32(truncatingIfNeeded: newValue) }
    }

    /// True when values stay after every receiver read them.
    @inlinable var isRetaining: Bool { retention > 0 }

    /// Values held now (retaining channels; 0 otherwise).
    @inlinable var heldCount: Int { isRetaining ? Int(truncatingIfNeeded: tail &- start) : 0 }

    /// `slots` before the first send: never dereferenced (`physical` is 0) nor freed.
    @usableFromInline static var unallocatedSlots: UnsafeMutablePointer<BroadcastSlot<T>> {
        UnsafeMutablePointer(bitPattern: MemoryLayout<BroadcastSlot<T>>.alignment).unsafelyUnwrapped
    }

    /// Frees the ring and the waiter slab (values still held are released).
    func destroy() {
        if physical > 0 {
            slots.deinitialize(count: physical)
            slots.deallocate()
        }
        waiters.destroy()
    }

    /// Doubles the storage, moving every slot to its place under the new mask.
    /// Called by a send that would overwrite a value still owed to a receiver
    /// while `physical < capacity`; the live positions are the last `physical`
    /// ones before `tail`, so they stay distinct under the larger mask.
    /// The first call allocates the first slots (2, or `capacity` when smaller).
    @inlinable
    mutating func grow() {
        let larger = physical == 0 ? min(Int(capacity), 2) : physical * 2
        let newSlots = UnsafeMutablePointer<BroadcastSlot<T>>.allocate(capacity: larger)
        newSlots.initialize(repeating: BroadcastSlot(pos: .max, rem: 0, value: nil), count: larger)
        let newMask = larger - 1
        for index in 0..<physical {
            let slot = (slots + index).move()
            if slot.pos != .max {
                newSlots[Int(truncatingIfNeeded: slot.pos) & newMask] = slot
            }
        }
        if physical > 0 { slots.deallocate() }
        slots = newSlots
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
        if isRetaining {
            guard cursor < start else { return nil }
            waiters.nodes[Int(id)].cursor = start
            return start &- cursor
        }
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
        if isRetaining {
            // Every reader copies; the mode is checked once per batch, not per value.
            for k in 0..<n {
                let idx = Int(truncatingIfNeeded: p) & mask
                slots[idx].rem -= 1
                store(k, slots[idx].value.unsafelyUnwrapped)
                p &+= 1
            }
        } else {
            for k in 0..<n {
                store(k, take(Int(truncatingIfNeeded: p) & mask))
                p &+= 1
            }
        }
        waiters.nodes[Int(id)].cursor = p
        return p
    }

    /// Hands receiver node `id`'s next values, up to `n`, to `body` in order, each
    /// with its position, in place: `body` gets a pointer to the slot's value (non-nil,
    /// valid during the call), so nothing is copied or retained. Stops early when
    /// `body` returns false (that value stays unread). Advances the cursor past the
    /// values `body` took and returns it. A non-retaining ring drops a value here,
    /// inside the lock, once its last receiver took it.
    @inlinable @inline(__always)
    mutating func visit(_ n: Int, for id: Int32, _ body: (UnsafePointer<T?>, UInt64) -> Bool) -> UInt64 {
        var p = waiters.nodes[Int(id)].cursor
        let end = p &+ UInt64(n)
        while p != end {
            let slot = slots + (Int(truncatingIfNeeded: p) & mask)
            guard withUnsafeMutablePointer(to: &slot.pointee.value, { body($0, p) }) else { break }
            slot.pointee.rem -= 1
            if slot.pointee.rem == 0 && !isRetaining { slot.pointee.value = nil }
            p &+= 1
        }
        waiters.nodes[Int(id)].cursor = p
        return p
    }

    /// The end of a read that took positions `cursor..<p` for receiver node `id`: when it
    /// left nothing available on an open channel, `waker` is armed (what it replaces goes
    /// into `replaced`, to be released outside the lock).
    @inlinable @inline(__always)
    mutating func endRead(_ id: Int32, from cursor: UInt64, to p: UInt64, arming waker: any BroadcastWaker,
                          replaced: inout Waiter) -> BroadcastBatch {
        let read = Int(p &- cursor)
        if p != tail || closed { return BroadcastBatch(count: read, closed: closed && p == tail) }
        replaced = waiters.park(id, .waker(waker))
        return BroadcastBatch(count: read, armed: true)
    }

    /// Gives `finish` the values at positions `from..<through` (initialized at `base`,
    /// in order) that are outside the finished interval, and widens the interval to
    /// cover them: when they touch or overlap it, to the union; when they lie past it,
    /// to them alone (readers move forward: the newest interval is the useful one).
    @inlinable @inline(__always)
    mutating func finishOnce(_ base: UnsafeMutablePointer<T>, from: UInt64, through: UInt64,
                             _ finish: (UnsafeMutableBufferPointer<T>, UInt64) -> Void) {
        if from >= finishedFrom && through <= finishedThrough { return }  // the usual case: all finished
        if through < finishedFrom || from > finishedThrough || finishedFrom == finishedThrough {
            finish(UnsafeMutableBufferPointer(start: base, count: Int(through &- from)), from)
            if from >= finishedThrough { (finishedFrom, finishedThrough) = (from, through) }
            return
        }
        if from < finishedFrom {
            finish(UnsafeMutableBufferPointer(start: base, count: Int(finishedFrom &- from)), from)
            finishedFrom = from
        }
        if through > finishedThrough {
            let skipped = Int(finishedThrough &- from)
            finish(UnsafeMutableBufferPointer(start: base + skipped, count: Int(through &- finishedThrough)), finishedThrough)
            finishedThrough = through
        }
    }

    /// Takes this receiver's copy of slot `idx`: the last reader moves the value
    /// out (no refcount operation, and the slot is released), others copy it.
    /// A retaining channel keeps the value (every reader copies it).
    @inlinable @inline(__always)
    mutating func take(_ idx: Int) -> T {
        slots[idx].rem -= 1
        if slots[idx].rem == 0 && !isRetaining {
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
        if isRetaining && p < start { p = start }
        while p != tail {
            let idx = Int(truncatingIfNeeded: p) & mask
            if slots[idx].pos == p {
                slots[idx].rem -= 1
                if slots[idx].rem == 0, !isRetaining, let v = slots[idx].value.take() {
                    released.append(v)
                }
            }
            p &+= 1
        }
    }

    /// Retaining send: stores `value` at `tail` for `n` receivers, growing the ring
    /// while it is below its retention (or a full slot is still owed and it is
    /// below capacity), else overwriting the oldest value held. Returns the
    /// value it overwrote, if any.
    @inlinable
    mutating func storeRetaining(_ value: consuming T, receivers n: Int, weight: UInt32) -> T? {
        var idx = Int(truncatingIfNeeded: tail) & mask
        while tail &- start >= UInt64(physical) && physical < Int(capacity)
            && (physical < Int(retention) || physical == 0 || slots[idx].rem > 0) {
            grow()
            idx = Int(truncatingIfNeeded: tail) & mask
        }
        var old: T?
        if tail &- start >= UInt64(physical) {
            old = slots[idx].value.take()
            heldBytes -= Int(slots[idx].weight)
            start &+= 1
        }
        slots[idx].pos = tail
        slots[idx].rem = Int32(truncatingIfNeeded: n)
        slots[idx].weight = weight
        slots[idx].value = value
        tail &+= 1
        heldBytes += Int(weight)
        return old
    }

    /// After a send, under the lock: takes up to `buf.count` parked waiters into `buf`
    /// and detaches the rest (see ``BroadcastShared/wake(_:_:_:)``). Returns how many
    /// are in `buf` and the detached list's sentinel (-1: none).
    @inlinable @inline(__always)
    mutating func detachWaitersAfterSend(into buf: UnsafeMutableBufferPointer<Waiter>) -> (Int, Int32) {
        if waiters.isMainEmpty { return (0, -1) }
        let woken = waiters.pop(from: 0, into: buf)
        return (woken, waiters.detachAll())
    }

    /// Drops the oldest values held until at most `limit` bytes are held (the
    /// newest value always stays); receivers that had not read them see the drop
    /// as lag. Returns the bytes freed.
    @usableFromInline
    mutating func trimOldest(toBytes limit: Int, into released: inout [T]) -> Int {
        var freed = 0
        while heldBytes > limit && tail &- start > 1 {
            let idx = Int(truncatingIfNeeded: start) & mask
            if let v = slots[idx].value.take() {
                let w = Int(slots[idx].weight)
                heldBytes -= w
                freed += w
                released.append(v)
            }
            start &+= 1
        }
        return freed
    }

    /// Retaining channels: drops every value held (into `released`, to be released outside
    /// the lock) and empties their slots; returns the bytes freed. `start` is left for the
    /// caller to move.
    mutating func dropHeld(into released: inout [T]) -> Int {
        var freed = 0
        while start != tail {
            let idx = Int(truncatingIfNeeded: start) & mask
            if let v = slots[idx].value.take() {
                freed += Int(slots[idx].weight)
                released.append(v)
            }
            slots[idx].rem = 0
            slots[idx].pos = .max
            start &+= 1
        }
        heldBytes -= freed
        return freed
    }

    /// Places receiver node `id` at `position` (at most `tail`) and counts it in
    /// the claims of the values it will read again. A position before `start`
    /// stays there, so the first read reports what is no longer held as lag.
    mutating func place(_ id: Int32, at position: UInt64) {
        guard isRetaining else {
            waiters.nodes[Int(id)].cursor = tail
            return
        }
        let p = min(position, tail)
        waiters.nodes[Int(id)].cursor = p
        var q = max(p, start)
        while q != tail {
            slots[Int(truncatingIfNeeded: q) & mask].rem += 1
            q &+= 1
        }
    }
}

/// The shared part of one broadcast channel: its mutex and its state in one
/// allocation (a ``PthreadLockStorage``: this object is the lock's storage), shared
/// by every sender and receiver handle.
///
/// Not `Sendable` (a `ManagedBuffer` cannot be); the handles that hold it are
/// `@unchecked Sendable` by this invariant: every mutable field is reached only
/// inside ``PthreadLockStorage/withLock(_:)``, and ``isRetaining``, read without it,
/// is set at creation and never changes.
///
/// Its hot paths (send, and the reads in ``BroadcastReceiver``) are inlinable so
/// that the modules using a channel get them specialized for their value type.
@usableFromInline
final class BroadcastShared<T: Sendable>: PthreadLockStorage<BroadcastState<T>> {
    // No field of its own (a `ManagedBuffer`'s rule): the account and the retention are
    // in the state, and the object, the mutex and the state take 176 bytes of heap where
    // an object holding a lock took 48 + 192.

    /// A channel of `capacity` (a power of two) slots.
    @usableFromInline
    static func make(capacity: Int, retention: BroadcastRetention<T>? = nil) -> BroadcastShared<T> {
        make(BroadcastState(capacity: capacity, retention: retention?.count ?? 0,
                            maxBytes: retention?.maxBytes ?? .max, account: retention?.account))
    }

    /// True when the channel keeps values after every receiver read them. Read
    /// without the lock: the field is set when the channel is made and never changes.
    @inlinable var isRetaining: Bool {
        withUnsafeMutablePointerToElements { $0.pointee.retention > 0 }
    }

    deinit {
        withLock { s in
            let held = s.heldBytes
            s.destroy()
            s.account?.add(-held)
        }
    }

    // MARK: senders

    /// Stores `value` (if anyone listens) and wakes the receivers that waited.
    @inlinable
    func send(_ value: T) -> Int {
        if isRetaining { return sendRetaining(value, weight: 0).receivers }
        return withUnsafeTemporaryAllocation(of: Waiter.self, capacity: wakeBatchSize) { buf in
            let (count, old, woken, rest) = withLock { s -> (Int, T?, Int, Int32) in
                let n = s.receiverCount
                if n == 0 || s.closed { return (0, nil, 0, -1) }
                if s.physical == 0 { s.grow() }  // the first send allocates the ring
                var idx = Int(truncatingIfNeeded: s.tail) & s.mask
                while s.slots[idx].rem > 0 && s.physical < Int(s.capacity) {
                    s.grow()  // the slot is still owed to a receiver: make room instead of overwriting
                    idx = Int(truncatingIfNeeded: s.tail) & s.mask
                }
                let old = s.slots[idx].value.take()
                s.slots[idx].pos = s.tail
                s.slots[idx].rem = Int32(truncatingIfNeeded: n)
                s.slots[idx].value = value
                s.tail &+= 1
                let (w, rest) = s.detachWaitersAfterSend(into: buf)
                return (n, old, w, rest)
            }
            _ = old  // an overwritten value is released here, outside the lock
            wake(woken, rest, buf)
            return count
        }
    }

    /// The retaining send: stores `value` even with no receiver, numbers it, and
    /// keeps the channel's byte bound; returns the receiver count and the
    /// position the value got (nil position: the channel is closed).
    @inlinable @inline(__always)
    func sendRetaining(_ value: consuming T, weight: UInt32) -> (receivers: Int, position: UInt64?) {
        // Moved into the ring, not copied: no retain here and no release by the caller.
        var moving: T? = consume value
        let (count, position, over) = withUnsafeTemporaryAllocation(of: Waiter.self, capacity: wakeBatchSize) { buf in
            let (count, position, old, over, woken, rest) = withLock {
                s -> (Int, UInt64?, T?, Bool, Int, Int32) in
                if s.closed { return (0, nil, nil, false, 0, -1) }
                let n = s.receiverCount
                let position = s.tail
                let heldBefore = s.heldBytes
                let old = s.storeRetaining(moving.take().unsafelyUnwrapped, receivers: n, weight: weight)
                let delta = s.heldBytes - heldBefore
                // Added here, under the lock: the account is the state's (no reference
                // to it leaves the lock, so none is retained per send).
                if delta != 0 { s.account?.add(delta) }
                let over = s.heldBytes > s.maxBytes
                let (w, rest) = s.detachWaitersAfterSend(into: buf)
                return (n, position, old, over, w, rest)
            }
            _ = old  // released here, outside the lock
            wake(woken, rest, buf)
            return (count, position, over)
        }
        // Past the byte bound the oldest go, in a second lock acquisition (rare).
        if over { trimToBound() }
        return (count, position)
    }

    /// Trims to the channel's own byte bound when it is passed.
    @usableFromInline
    func trimToBound() {
        var released: [T] = []
        withLock { s in
            let freed = s.heldBytes > s.maxBytes ? s.trimOldest(toBytes: s.maxBytes, into: &released) : 0
            if freed != 0 { s.account?.add(-freed) }
        }
        released.removeAll()
    }

    /// See ``BroadcastSender/skip(to:)``.
    func skip(to position: UInt64) -> Bool {
        var released: [T] = []
        let skipped = withUnsafeTemporaryAllocation(of: Waiter.self, capacity: wakeBatchSize) { buf in
            let (skipped, woken, rest) = withLock { s -> (Bool, Int, Int32) in
                guard s.isRetaining, !s.closed, position > s.tail else { return (false, 0, -1) }
                let freed = s.dropHeld(into: &released)
                if freed != 0 { s.account?.add(-freed) }
                s.tail = position
                s.start = position
                let (w, rest) = s.detachWaitersAfterSend(into: buf)
                return (true, w, rest)
            }
            wake(woken, rest, buf)
            return skipped
        }
        released.removeAll()  // released outside the lock
        return skipped
    }

    /// Drops the oldest values held until at most `limit` bytes are held (the
    /// newest stays); receivers that had not read them see lag. Returns the bytes freed.
    func trim(toBytes limit: Int) -> Int {
        var released: [T] = []
        let freed = withLock { s in
            let freed = s.trimOldest(toBytes: limit, into: &released)
            if freed != 0 { s.account?.add(-freed) }
            return freed
        }
        released.removeAll()
        return freed
    }

    /// Wakes, outside the lock, what ``BroadcastState/detachWaitersAfterSend(into:)`` took:
    /// the first `woken` waiters in `buf`, then the detached list `rest` (if not -1).
    @inlinable @inline(__always)
    func wake(_ woken: Int, _ rest: Int32, _ buf: UnsafeMutableBufferPointer<Waiter>) {
        fireAndClear(buf, woken)
        if rest >= 0 { drainDetached(rest, buf) }
    }

    /// Wakes every waiter of the detached list `sentinel` (see ``wakeDetached(_:in:waiters:using:)``).
    @inlinable
    func drainDetached(_ sentinel: Int32, _ buf: UnsafeMutableBufferPointer<Waiter>) {
        wakeDetached(sentinel, in: self, waiters: \.waiters, using: buf)
    }

    /// Registers one more sender handle; false if the channel already closed.
    func addSender() -> Bool {
        withLock { s in
            if s.closed { return false }
            s.senderCount += 1
            return true
        }
    }

    /// Releases one sender handle; the last one closes the channel and wakes
    /// every waiting receiver.
    @usableFromInline
    func releaseSender() {
        withUnsafeTemporaryAllocation(of: Waiter.self, capacity: wakeBatchSize) { buf in
            let rest = withLock { s -> Int32 in
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
    @usableFromInline
    func closeIfDrained() -> Bool {
        withUnsafeTemporaryAllocation(of: Waiter.self, capacity: wakeBatchSize) { buf in
            let (closed, rest) = withLock { s -> (Bool, Int32) in
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
    @usableFromInline
    var isClosed: Bool { withLock { $0.closed } }

    // MARK: receivers

    /// Creates a receiver node positioned at the tail.
    func addReceiver() -> Int32 {
        withLock { s in
            let id = s.waiters.allocate()
            s.waiters.nodes[Int(id)].cursor = s.tail
            s.receiverCount += 1
            return id
        }
    }

    /// Creates a receiver node whose next read is `start` (see ``BroadcastStart``);
    /// `tail` is set to the channel's tail at that moment.
    func addReceiver(_ start: BroadcastStart, tail: inout UInt64) -> Int32 {
        withLock { s in
            tail = s.tail
            let id = s.waiters.allocate()
            s.receiverCount += 1
            switch start {
            case .tail: s.waiters.nodes[Int(id)].cursor = s.tail
            case let .position(p): s.place(id, at: p)
            case let .last(n): s.place(id, at: s.tail &- min(UInt64(s.heldCount), n))
            }
            return id
        }
    }

    /// The next position a send will take, the oldest position held, and the bytes held.
    @usableFromInline var positions: BroadcastPositions {
        withLock { s in
            BroadcastPositions(tail: s.tail, oldest: s.isRetaining ? s.start : s.tail, heldBytes: s.heldBytes)
        }
    }

    /// Removes receiver `id`: unparks it and releases its claim on unread values.
    func removeReceiver(_ id: Int32) {
        var released: [T] = []
        let w = withLock { s -> Waiter in
            let w = s.waiters.unpark(id)
            s.releaseClaims(id, into: &released)
            s.waiters.free(id)
            s.receiverCount -= 1
            return w
        }
        _ = w  // dropped (not fired) outside the lock
        released.removeAll()  // values are released outside the lock
    }

    var receiverCount: Int { withLock { $0.receiverCount } }

    /// The capacity (a power of two).
    var channelCapacity: Int { withLock { Int($0.capacity) } }

    /// Number of parked waiters (async receivers and armed wakers), for tests.
    var parkedCount: Int { withLock { $0.waiters.linkedCount } }
}
