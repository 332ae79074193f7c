// One topic's stream as a node follows it from Redis: in sequence order, gaps back-filled or counted, never skipped silently.

/// What a node does next with one topic's stream (see ``StreamFollower``).
enum FollowerStep: Equatable, Sendable {
    /// Hand these messages to the local ring, in this order (consecutive sequences).
    case deliver([ChannelMessage])
    /// The messages after `after` are missing: read the stream (`XRANGE`, ``StreamEntries``)
    /// and give the entries to ``StreamFollower/backFilled(_:)``. Until then what comes is held.
    case fetch(after: UInt64)
    /// The stream is a new one (another epoch): start the local ring anew, then deliver.
    case restart(epoch: [UInt8], then: [ChannelMessage])
    /// Nothing to do now (an old or repeated message, or one held while a fetch is out).
    case wait
}

/// The order a node hands one topic's messages to its local ring in.
///
/// Messages reach a node on the topic's channel in sequence order, but a node can miss
/// some: while its subscription is being made, across a reconnect to Redis, or when Redis
/// drops a slow Pub/Sub client. The follower keeps the last sequence handed on and:
/// - hands on the next one at once;
/// - ignores one it already handed on (a repeat across a resubscription);
/// - on a gap, holds what came and asks for the missing ones from the stream; the entries
///   read, then the held messages, go on in order; sequences neither in the stream (trimmed)
///   nor held are given as a count (``StreamFollower/Outcome/lost(_:)``), which the ring
///   turns into `LAGGED` for the subscribers owed them: never a silent gap;
/// - on another epoch (Redis lost the topic's keys, or restarted empty), starts over.
///
/// Pure: no I/O, one topic, one thread (the engine's loop).
struct StreamFollower: Sendable {
    /// What ``backFilled(_:)`` hands on, in order.
    enum Outcome: Equatable, Sendable {
        case message(ChannelMessage)
        /// This many sequences are gone (trimmed from the stream before they could be read).
        case lost(UInt64)
    }

    /// The stream's epoch, once known.
    private(set) var epoch: [UInt8]?
    /// The last sequence handed on (0: none yet).
    private(set) var last: UInt64
    /// Messages that came after a gap, in sequence order, while a fetch is out.
    private var held: [ChannelMessage] = []
    /// Whether a fetch was asked for and not answered yet.
    private(set) var fetching = false
    /// Counts the restarts: a fetch's answer is taken only with the generation it was
    /// asked in (an answer about the old stream, arriving after a restart, is dropped).
    private(set) var generation: UInt64 = 0

    /// Follows a stream from after `last` (0: from its beginning) in `epoch` (nil: the
    /// first message's). A node starts from the position it reported to its subscribers.
    init(epoch: [UInt8]? = nil, last: UInt64 = 0) {
        self.epoch = epoch
        self.last = last
    }

    /// A message from the topic's channel.
    mutating func receive(_ message: ChannelMessage) -> FollowerStep {
        if let epoch, epoch != message.epoch {
            // Another stream: what was held or asked for belongs to the old one.
            self.epoch = message.epoch
            held = []
            fetching = false
            last = 0
            generation &+= 1
            if message.seq == 1 {
                last = 1
                return .restart(epoch: message.epoch, then: [message])
            }
            held = [message]
            fetching = true
            return .restart(epoch: message.epoch, then: [])
        }
        epoch = message.epoch
        if message.seq <= last { return .wait }
        if fetching {
            hold(message)
            return .wait
        }
        if message.seq == last + 1 {
            last = message.seq
            return .deliver([message])
        }
        hold(message)
        fetching = true
        return .fetch(after: last)
    }

    /// After ``FollowerStep/restart(epoch:then:)`` with nothing to deliver: the fetch to make
    /// for the new stream's first messages.
    var pendingFetch: UInt64? { fetching ? last : nil }

    /// The entries read from the stream after ``FollowerStep/fetch(after:)`` (in order, as
    /// `XRANGE` gives them; may be empty), for the fetch asked in `generation`. Returns what
    /// to hand on, in order, and whether another fetch is needed (`more`: the read stopped
    /// at its `count` before reaching the held messages), in which case it is asked for
    /// from the new ``last``. An answer from another generation changes nothing.
    mutating func backFilled(_ entries: [StreamEntry], complete: Bool = true,
                             generation asked: UInt64) -> (outcomes: [Outcome], more: Bool) {
        guard fetching, asked == generation, let epoch else { return ([], false) }
        var outcomes: [Outcome] = []
        for entry in entries where entry.seq > last {
            if let first = held.first, entry.seq >= first.seq { break }  // from here on the held ones go on
            if entry.seq > last + 1 { outcomes.append(.lost(entry.seq - last - 1)) }
            outcomes.append(.message(ChannelMessage(epoch: epoch, seq: entry.seq, payload: entry.payload, assign: entry.assign)))
            last = entry.seq
        }
        if !complete, held.first.map({ last + 1 < $0.seq }) ?? true {
            return (outcomes, true)  // the read was cut short: ask again from `last`
        }
        fetching = false
        for message in held where message.seq > last {
            if message.seq > last + 1 { outcomes.append(.lost(message.seq - last - 1)) }
            outcomes.append(.message(message))
            last = message.seq
        }
        held = []
        return (outcomes, false)
    }

    /// What ``caughtUp(epoch:head:entries:)`` found.
    enum CatchUp: Equatable, Sendable {
        /// The stream is another one now: start the local ring anew and read the new stream
        /// from its beginning (then call ``caughtUp(epoch:head:entries:)`` again with that).
        case restart(epoch: [UInt8])
        /// Hand these on, in order; then, when `thenFetch` is set, messages held after the
        /// head came with a gap before them: fetch after that sequence (``FollowerStep/fetch(after:)``).
        case outcomes([Outcome], thenFetch: UInt64?)
    }

    /// Holds what comes until ``caughtUp(epoch:head:entries:)``: the node lost its view of the
    /// stream (its connection to Redis) and reads the stream's state again. A fetch asked
    /// before is answered no more (its answer belongs to the earlier generation).
    mutating func pause() {
        fetching = true
        generation &+= 1
    }

    /// The stream's state read after ``pause()``, or when following began: its epoch, its
    /// head (the last sequence given), and its entries after ``last`` (all of them, in order). Hands on those entries and then
    /// what was held meanwhile, with the sequences in neither given as lost; or, when the
    /// epoch is another, starts over (``last`` is 0 again).
    mutating func caughtUp(epoch current: [UInt8], head: UInt64,
                           entries: [StreamEntry]) -> CatchUp {
        held.removeAll { $0.epoch != current }
        if let epoch, epoch != current {
            self.epoch = current
            last = 0
            generation &+= 1
            return .restart(epoch: current)  // stays paused, holding what came of the new stream
        }
        epoch = current
        var outcomes: [Outcome] = []
        var next = 0
        for entry in entries where entry.seq > last {
            // A held message before this entry goes first (it is the same message, read twice).
            while next < held.count, held[next].seq < entry.seq { hand(held[next], &outcomes); next += 1 }
            hand(ChannelMessage(epoch: current, seq: entry.seq, payload: entry.payload, assign: entry.assign), &outcomes)
        }
        // What the stream no longer holds up to its head is gone (held messages after it go on).
        while next < held.count, held[next].seq <= head { hand(held[next], &outcomes); next += 1 }
        if head > last {
            outcomes.append(.lost(head - last))
            last = head
        }
        // Held messages after the head: those that follow on go on; after a gap (a message
        // published after the read that this node missed) the rest stay held for a fetch.
        while next < held.count, held[next].seq <= last + 1 { hand(held[next], &outcomes); next += 1 }
        held.removeFirst(next)
        generation &+= 1
        if held.isEmpty {
            fetching = false
            return .outcomes(outcomes, thenFetch: nil)
        }
        return .outcomes(outcomes, thenFetch: last)
    }

    /// Appends `message` to `outcomes` (after what was lost before it) unless already handed on.
    private mutating func hand(_ message: ChannelMessage, _ outcomes: inout [Outcome]) {
        guard message.seq > last else { return }
        if message.seq > last + 1 { outcomes.append(.lost(message.seq - last - 1)) }
        outcomes.append(.message(message))
        last = message.seq
    }

    /// Keeps `message` in sequence order among the held ones (a repeat is kept once).
    private mutating func hold(_ message: ChannelMessage) {
        guard let index = held.firstIndex(where: { $0.seq >= message.seq }) else {
            held.append(message)
            return
        }
        if held[index].seq != message.seq { held.insert(message, at: index) }
    }
}
