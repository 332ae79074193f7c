import Channels
import Glibc
import Synchronization
// A topic: one broadcast ring of encoded messages shared by all its subscriptions.

/// A concrete topic. Publishing sends one ``Message`` into its ring; every
/// subscription reads it through its own cursor.
///
/// Any thread. `retired` is set (under the registry's lock) when the registry
/// drops the topic; a publisher that cached the topic must check it and look
/// the topic up again.
public final class Topic: BroadcastSender<Message>, @unchecked Sendable {
    // @unchecked Sendable: `cursors` is read and changed only under the
    // registry's lock; every other stored property is immutable or atomic.
    //
    // The topic is its ring's sender (a subclass, not a field): one object and one
    // pointer hop fewer per topic and per publish.

    /// The topic's name.
    public let name: [UInt8]
    /// Its stream's epoch (PROTOCOL.md version 2), as the counter of the store's
    /// ``EpochSource`` (the token is made when a reply needs it): unique to this
    /// topic object, so a topic freed and made again, or a restarted broker, has another.
    let epochNumber: UInt64
    /// The ring: it holds the newest messages (``RingLimits``) and numbers them; a
    /// message's sequence is its ring position + 1. The topic itself is the only sender.
    var sender: BroadcastSender<Message> { self }
    /// Three flags in the sender's word (``BroadcastSender/handleFlags``, beside the
    /// sender's own bit: the topic and its ring's sender take 64 bytes of heap, not 112):
    /// - ``retiredBit``, set once the registry has removed this topic
    ///   (release/acquire: what the registry did before is visible to a reader that sees it);
    /// - ``multilineBit``, set once a message whose payload cannot be one line was
    ///   published here (version 1 readers then check each message); set before that
    ///   message is sent, so a reader that read it under the ring's lock sees the flag;
    /// - ``versionTwoBit``, set once a version 2 subscription reads this topic (relaxed:
    ///   messages published after it is seen get room for their version 2 frame; one
    ///   published before is given that frame in an allocation of its own).
    ///
    /// The messages published here are not counted apart: every publish takes the next
    /// ring position, so the ring's tail is that count (an atomic increment per publish less).
    private static let retiredBit: UInt64 = 1 << 62
    private static let multilineBit: UInt64 = 1 << 61
    private static let versionTwoBit: UInt64 = 1 << 60
    /// The cursors reading this topic (guarded by the registry's lock); each
    /// cursor knows its index here, for O(1) removal.
    var cursors = CursorList()

    /// A topic without its ring: the store opens it (``openRing(account:)``) at the first
    /// message, or when a subscription needs it (a queue group's share). A topic that only
    /// has subscribers costs this object and its cursors, not a channel: 176 bytes of ring
    /// state and a receiver per subscription less (docs/benchmarks.md). `limits` are the
    /// ring's bounds, fixed now (a reload changes those of topics made afterwards).
    init(name: [UInt8], epochNumber: UInt64, limits: RingLimits) {
        self.name = name
        self.epochNumber = epochNumber
        super.init(unopened: ())
        handleFlags.bitwiseOr(Topic.packed(limits), ordering: .relaxed)
    }

    /// The bounds the ring gets when it opens, packed into the low bits of the flags word
    /// (no field of their own): the capacity as a power of two (5 bits: at most 2^24, it is
    /// rounded up as the ring rounds it), then the byte bound (41 bits: at most 2^40).
    private static let capacityShiftBits: UInt64 = 5
    private static let maxBytesBits: UInt64 = 41

    private static func packed(_ limits: RingLimits) -> UInt64 {
        let capacity = max(1, min(limits.capacity, 1 << 24))
        let shift = UInt64((capacity - 1).bitWidth - (capacity - 1).leadingZeroBitCount)  // ceil(log2)
        let maxBytes = UInt64(max(0, min(limits.maxBytes, 1 << 40)))
        return shift | maxBytes << capacityShiftBits
    }

    /// The ring's bounds (as given at init: its capacity rounded up to a power of two).
    var limits: RingLimits {
        let word = handleFlags.load(ordering: .relaxed)
        let shift = word & (1 << Topic.capacityShiftBits - 1)
        let maxBytes = word >> Topic.capacityShiftBits & (1 << Topic.maxBytesBits - 1)
        return RingLimits(capacity: 1 << Int(shift), maxBytes: Int(maxBytes))
    }

    /// Whether the ring exists (acquire: the receivers its opener placed are visible).
    /// Changes only under the registry's lock.
    @inline(__always)
    var isRingOpen: Bool { isOpen }

    /// Makes the ring with the topic's ``limits`` (caller holds the registry lock, or no
    /// one else knows the topic yet) and gives every cursor waiting for it a receiver at
    /// position 0. The ring is visible to publishers before those receivers exist, but it
    /// retains what it is sent: a receiver placed at 0 reads every message since it
    /// opened. False when it was open already or retired. (The packed capacity is at most
    /// 2^24, which a channel always accepts: the open cannot throw.)
    @discardableResult
    func openRing(account: BroadcastByteAccount?) -> Bool {
        let limits = self.limits
        let retention = BroadcastRetention<Message>(count: limits.capacity, maxBytes: limits.maxBytes, account: account)
        guard (try? open(capacity: limits.capacity, retention: retention)) == true else { return false }
        for cursor in cursors where cursor.isAwaitingRing { cursor.attachReceiver() }
        return true
    }

    // The flags live inside the topic (not as objects of their own):
    // an idle topic is one allocation fewer each.

    var isRetired: Bool { handleFlags.load(ordering: .acquiring) & Topic.retiredBit != 0 }
    func markRetired() { handleFlags.bitwiseOr(Topic.retiredBit, ordering: .releasing) }
    var carriesMultiline: Bool { handleFlags.load(ordering: .relaxed) & Topic.multilineBit != 0 }
    func markCarriesMultiline() { handleFlags.bitwiseOr(Topic.multilineBit, ordering: .relaxed) }
    var hasVersionTwoReaders: Bool { handleFlags.load(ordering: .relaxed) & Topic.versionTwoBit != 0 }
    func markVersionTwoReaders() {
        if !hasVersionTwoReaders { handleFlags.bitwiseOr(Topic.versionTwoBit, ordering: .relaxed) }
    }
    /// Messages published to this topic: its ring's tail (one lock acquisition; for figures).
    var published: UInt64 { sender.positions.tail }

    /// Whether a subscription to this very name (not a pattern) reads it.
    var hasConcreteSubscription: Bool { cursors.contains { !$0.isPattern } }

    /// Whether this topic is called `other` (a byte comparison, no allocation).
    @inline(__always)
    func hasName(_ other: UnsafeRawBufferPointer) -> Bool {
        guard other.count == name.count, let otherBase = other.baseAddress else { return other.isEmpty && name.isEmpty }
        return name.withUnsafeBytes { mine in
            guard let mineBase = mine.baseAddress else { return false }
            return Topic.sameBytes(mineBase, otherBase, count: other.count)
        }
    }

    /// Whether `count` bytes at `a` and `b` are the same, inlined: words of 8, 4 or 2 bytes,
    /// the last one overlapping the one before rather than a loop over the bytes left. On
    /// every PUB that uses the connection's cached topic; a `memcmp` call cost 18 to 26
    /// instructions there (callgrind), depending on where the name fell in the read buffer.
    @inline(__always)
    static func sameBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, count: Int) -> Bool {
        @inline(__always) func same<Word: FixedWidthInteger>(_ offset: Int, _: Word.Type) -> Bool {
            a.loadUnaligned(fromByteOffset: offset, as: Word.self) == b.loadUnaligned(fromByteOffset: offset, as: Word.self)
        }
        if count >= 8 {
            var index = 0
            while index + 8 < count {
                if !same(index, UInt64.self) { return false }
                index += 8
            }
            return same(count - 8, UInt64.self)
        }
        if count >= 4 { return same(0, UInt32.self) && same(count - 4, UInt32.self) }
        if count >= 2 { return same(0, UInt16.self) && same(count - 2, UInt16.self) }
        return count == 0 || same(0, UInt8.self)
    }

    // `receiverCount` (subscriptions currently attached) is the sender's.
}

/// The bounds of one topic's ring.
struct RingLimits: Sendable, Equatable {
    /// Messages held (and how far a subscriber may fall behind); a power of two is used.
    var capacity: Int
    /// Bytes of messages held (``Message/weight``); the oldest go first past it.
    var maxBytes: Int
}
