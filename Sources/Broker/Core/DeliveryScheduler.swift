import Channels
import Protocol
// Which sessions write this turn, in what order, and what each takes from its ready cursors.

/// Schedules deliveries on one loop: cursors woken by their rings go onto their
/// session's ready list, sessions with something to write are flushed once per
/// turn in the measured order, and each flush takes one batch from the ready
/// cursors round-robin (``gather(for:)``).
///
/// Rules kept from measurement (docs/benchmarks.md):
/// - **Flush order**: while subscribers keep up, the first delivery goes before
///   the replies; when they are behind, replies go first (``flushAll()``).
/// - **Input during a long flush phase**: every ``flushesPerInputPoll`` flushes,
///   input is polled, but only while subscribers keep up
///   (``subscribersKeepUp(delivered:flushes:capacity:)``).
/// - **Fairness**: a batch takes at most ``readBatchSize`` messages from one
///   cursor and ``batchSegments`` pieces in all; the next batch starts after the
///   last cursor served.
/// - **Coalescing**: a burst spread thinly over many sessions writes its replies at
///   once and its deliveries with the next turn's
///   (``coalesces(publishes:receivers:sessions:)``).
///
/// Loop thread only.
final class DeliveryScheduler {
    /// Segments gathered into one flush batch before writing.
    static let batchSegments = 4096
    /// Messages taken from one ring per read.
    static let readBatchSize = 256
    /// Bytes of copied frames after which a batch takes no more cursors (one cursor's
    /// read may pass it by at most ``readBatchSize`` frames of ``OutputQueue/stageLimit``).
    static let batchFrameBytes = 64 * 1024
    /// Sessions flushed between two input polls in a long flush phase.
    static let flushesPerInputPoll = 8
    /// Input is polled mid-phase only while the sessions flushed since the last
    /// poll took at most this many messages each on average (and at most an eighth
    /// of the ring capacity): subscribers that keep up.
    static let smallBatchMessages = 16

    // Unchecked exclusivity on the properties measured on the delivery path
    // (callgrind, one write per delivery: 1 to 4 run-time checks per delivery each).

    /// The sessions of the loop, by token (a woken cursor names its session's token).
    @exclusivity(unchecked)
    var sessions: [UInt64: Session] = [:]
    /// Cursors woken on this thread, to be moved to their session's ready list.
    @exclusivity(unchecked)
    private var wokenCursors: [Cursor] = []
    /// Sessions with output to write this turn: replies and the like.
    private var dirty: [Session] = []
    /// Sessions with output to write this turn because a cursor of theirs was
    /// woken: deliveries (see ``flushAll()`` for the order).
    @exclusivity(unchecked)
    private var dirtyForDelivery: [Session] = []
    /// The lists being worked through, swapped with the three above so that new
    /// entries can be added meanwhile without a new array each turn.
    private var wokenInProgress: [Cursor] = []
    private var dirtyInProgress: [Session] = []
    private var deliveriesInProgress: [Session] = []
    /// Whether the last flush phase's writes were small (subscribers keeping up).
    private var lastTurnKeptUp = true
    /// Whether the last turn left its deliveries to this one (``coalesces(publishes:receivers:sessions:)``).
    private var coalescedLastTurn = false
    /// Messages delivered in this flush phase (added to the server's counter once per phase).
    private(set) var turnDelivered: UInt64 = 0
    /// The core: lag reports, the store (cursors of freed topics), settings and counters.
    private let core: CommandCore
    /// Reads input that arrived meanwhile (the reactor's poll); set by the loop.
    var pollInput: () -> Void = {}

    init(core: CommandCore) {
        self.core = core
    }

    /// True when woken cursors or dirty sessions wait for this turn's end (deliveries
    /// coalesced with the next turn's excepted: they wait for input, see ``hasCoalescedWork``).
    var hasPendingWork: Bool {
        !dirty.isEmpty || (!dirtyForDelivery.isEmpty && !coalescedLastTurn) || !wokenCursors.isEmpty
    }

    /// True when the last turn's deliveries wait for the next turn: the loop may wait for
    /// input, but at most ``coalescingWaitMs``.
    var hasCoalescedWork: Bool { coalescedLastTurn && !dirtyForDelivery.isEmpty }

    /// The longest a loop waits for input before it writes deliveries it coalesced.
    static let coalescingWaitMs: Int32 = 1
    /// Publishes in a turn from which coalescing is considered (see ``coalesces(publishes:receivers:sessions:)``).
    static let coalescingMinPublishes = 256
    /// Sessions with deliveries in a turn from which coalescing is considered.
    static let coalescingMinSessions = 32

    /// Whether a turn of `publishes` that reached `receivers` subscribers, spread over
    /// `sessions` sessions to write, should leave those writes to the next turn (once:
    /// never two turns in a row).
    ///
    /// Yes when a pipelining publisher's burst is spread thinly: a large burst (at least
    /// ``coalescingMinPublishes``) over many sessions (at least ``coalescingMinSessions``),
    /// fewer than ``smallBatchMessages`` messages each. Then each write costs the kernel
    /// about as much whatever it carries (≈ 5 µs on loopback), and one write per session
    /// per turn spends most of the turn there; the publisher's replies are still written
    /// at once, so its next burst comes in while the deliveries wait, and the next turn
    /// writes both (fanbench `topics`, 10,000 topics on 100 connections). A few publishes
    /// a turn (the latency workloads, even to 64 subscribers), a fan-out (every session
    /// gets the whole burst) or a few sessions never coalesce.
    static func coalesces(publishes: Int, receivers: Int, sessions: Int) -> Bool {
        publishes >= coalescingMinPublishes && sessions >= coalescingMinSessions
            && receivers < smallBatchMessages * sessions
    }

    /// A cursor of one of this loop's sessions has messages. Loop thread.
    @inline(__always)
    func wake(_ cursor: Cursor) { wokenCursors.append(cursor) }

    /// Moves woken cursors onto their sessions' ready lists.
    func processWokenCursors() {
        while !wokenCursors.isEmpty {
            swap(&wokenCursors, &wokenInProgress)
            for cursor in wokenInProgress {
                guard cursor.receiver != nil, !cursor.isQueued,
                      let token = cursor.subscription?.connectionToken,
                      let session = sessions[token], !session.state.isClosed else { continue }
                cursor.isQueued = true
                session.ready.append(cursor)
                markDirty(session, forDelivery: true)
            }
            wokenInProgress.removeAll(keepingCapacity: true)
        }
    }

    /// Puts the session on this turn's flush list (once; the first reason counts).
    func markDirty(_ session: Session, forDelivery: Bool = false) {
        if session.isQueuedForFlush { return }
        session.isQueuedForFlush = true
        if forDelivery { dirtyForDelivery.append(session) } else { dirty.append(session) }
    }

    /// Flushes every session on this turn's lists.
    ///
    /// Order: while subscribers keep up (the last turn's writes were small, see
    /// ``subscribersKeepUp(delivered:flushes:capacity:)``), the first delivery goes
    /// before the replies. A publisher's `OK` is queued while its PUB runs, before
    /// the subscribers it reached are woken, so in insertion order a message to one
    /// subscriber waits for the reply's write, and the reader is woken by the reply
    /// first (fanbench latency N = 1, 12 interleaved pairs: p50 −4.7 µs and p99
    /// −6.1 µs, median of the paired differences, 8 of 12 pairs better). When
    /// subscribers are behind, replies go first: a pipelining publisher gets its
    /// acknowledgements while the bulk is written and sends more meanwhile
    /// (delivery first there cost a quarter of the N = 1 fan-out rate, 3.9 → 2.9 M/s).
    func flushAll() {
        let (publishes, receivers) = (core.turnPublishes, core.turnReceivers)
        (core.turnPublishes, core.turnReceivers) = (0, 0)
        if dirty.isEmpty && dirtyForDelivery.isEmpty { return }
        if !coalescedLastTurn && lastTurnKeptUp
            && DeliveryScheduler.coalesces(publishes: publishes, receivers: receivers, sessions: dirtyForDelivery.count) {
            // Replies now (the publisher sends its next burst meanwhile); deliveries next turn.
            swap(&dirty, &dirtyInProgress)
            for session in dirtyInProgress {
                session.isQueuedForFlush = false
                if !session.state.isClosed { session.flush() }
            }
            dirtyInProgress.removeAll(keepingCapacity: true)
            coalescedLastTurn = true
            core.stats.coalescedTurns.add(1)
            return
        }
        coalescedLastTurn = false
        swap(&dirty, &dirtyInProgress)
        swap(&dirtyForDelivery, &deliveriesInProgress)
        let capacity = core.settings.capacity
        var sincePoll = 0
        var deliveredAtPoll = turnDelivered
        func flushOne(_ session: Session) {
            session.isQueuedForFlush = false
            if !session.state.isClosed { session.flush() }
            sincePoll += 1
            if sincePoll == DeliveryScheduler.flushesPerInputPoll {
                if DeliveryScheduler.subscribersKeepUp(delivered: turnDelivered &- deliveredAtPoll, flushes: sincePoll,
                                                       capacity: capacity) {
                    core.stats.inputPollsDuringFlush.add(1)
                    pollInput()
                }
                sincePoll = 0
                deliveredAtPoll = turnDelivered
            }
        }
        let deliveryFirst = lastTurnKeptUp && !deliveriesInProgress.isEmpty
        if deliveryFirst { flushOne(deliveriesInProgress[0]) }
        for session in dirtyInProgress { flushOne(session) }
        for session in deliveriesInProgress.dropFirst(deliveryFirst ? 1 : 0) { flushOne(session) }
        lastTurnKeptUp = DeliveryScheduler.subscribersKeepUp(delivered: turnDelivered,
                                                             flushes: max(1, deliveriesInProgress.count),
                                                             capacity: capacity)
        dirtyInProgress.removeAll(keepingCapacity: true)
        deliveriesInProgress.removeAll(keepingCapacity: true)
        if turnDelivered > 0 {
            core.stats.delivered.add(turnDelivered)
            turnDelivered = 0
        }
    }

    /// Whether the last `flushes` flushes, which wrote `delivered` messages, were
    /// small enough to poll input: at most ``smallBatchMessages`` each on average,
    /// and at most an eighth of the ring `capacity`. Larger writes mean subscribers
    /// are behind; reading publishers sooner would only push them towards a lag.
    ///
    /// Why poll at all: one write per subscriber per phase makes a phase as long
    /// as the fan-out (64 subscribers on loopback take ≈ 300 µs). A message
    /// published meanwhile would wait for the whole phase to end, then for its own
    /// turn in the next one. Reading input every few flushes puts it into the ring
    /// at once, so every subscriber not yet written in this phase takes it in the
    /// same write. With large writes, reading a pipelining publisher more often
    /// than once per phase lets it put up to two publish windows into a ring
    /// between two reads of the same subscriber: with `capacity` ≈ the window,
    /// LAGGED where there was none (fanbench, 256 subscribers: 18.6 M of 40 M
    /// messages lagged when polled).
    static func subscribersKeepUp(delivered: UInt64, flushes: Int, capacity: Int) -> Bool {
        let perFlush = UInt64(min(smallBatchMessages, max(1, capacity / 8)))
        return delivered <= perFlush * UInt64(max(0, flushes))
    }

    /// One read of a WebSocket session's cursor: each frame, in the session's protocol
    /// version, goes into the queue as one WebSocket message, a header of its own before the
    /// frame shared as for TCP (copied when small, held by reference when large). The
    /// message's opcode is found once, by its first WebSocket reader. Version 1 readers count
    /// the payloads that cannot be one line in `skipped`, as ``gather(for:)`` does.
    private func readForWebSocket(_ receiver: BroadcastReceiver<Message>, cursor: Cursor, session: Session, room: Int,
                                  skipped: inout UInt64) -> BroadcastBatch {
        let versionTwo = session.protocolVersion == 2
        var taken: UInt64 = 0
        var skippedHere: UInt64 = 0
        var header: (UInt64, UInt64) = (0, 0)
        let result = withUnsafeMutableBytes(of: &header) { headerBytes in
            receiver.readBatch(upTo: room, armingWhenDrained: cursor.prepareToWait()) { slot, position in
                // Looked at in place, as in gather(for:): no copy of the message (a retain and a
                // release per delivery) unless it is held by reference.
                let frame: UnsafeRawBufferPointer?
                let length: Int
                if versionTwo {
                    var whole = slot.pointee?.madeWholeVersionTwoFrame
                    if whole == nil, let message = slot.pointee {
                        message.makeVersionTwoFrame(seq: position &+ 1)
                        whole = message.madeWholeVersionTwoFrame
                    }
                    frame = whole
                    length = slot.pointee?.versionTwoFrameCount ?? 0
                } else {
                    if slot.pointee?.isLineSafe == false {
                        if taken > skippedHere { return false }
                        skippedHere += 1
                        taken += 1
                        return true
                    }
                    if skippedHere > 0 { return false }
                    frame = slot.pointee?.bytes
                    length = frame?.count ?? 0
                }
                guard let opcode = slot.pointee?.webSocketOpcode, let base = headerBytes.baseAddress else { return true }
                let headerCount = WebSocketFrameEncoder.writeHeader(opcode: opcode, length: length, to: base)
                let headerPiece = UnsafeRawBufferPointer(start: base, count: headerCount)
                if let frame, frame.count <= OutputQueue.stageLimit {
                    session.output.appendFrame(headerPiece, frame)
                } else if let message = slot.pointee {
                    session.output.appendFrame(headerPiece, UnsafeRawBufferPointer(start: nil, count: 0))
                    session.output.appendMessage(message, sized: versionTwo)
                }
                taken += 1
                return true
            }
        }
        skipped = skippedHere
        return result
    }

    /// Fills the session's empty output queue with one batch from its ready
    /// cursors, round-robin.
    func gather(for session: Session) {
        gatherBatch(for: session, webSocket: false)
    }

    /// ``gather(for:)`` for a WebSocket session: each frame goes into the queue as one
    /// WebSocket message (``readForWebSocket(_:cursor:session:room:skipped:)``).
    func gatherWebSocket(for session: Session) {
        gatherBatch(for: session, webSocket: true)
    }

    /// The one batch loop of both: `webSocket` is a constant in each, so the TCP path is
    /// compiled without the WebSocket branch (callgrind: one instruction per delivery with it).
    @inline(__always)
    private func gatherBatch(for session: Session, webSocket: Bool) {
        // The frames of this batch go into the loop's scratch; the session keeps what its
        // write leaves in memory of its own (``Session/flush()``).
        session.output.lendFramesScratch(session.services.buffers.frames)
        var index = 0
        while index < session.ready.count && session.output.pendingSegments < DeliveryScheduler.batchSegments
            && session.output.pendingFrameBytes < DeliveryScheduler.batchFrameBytes {
            let cursor = session.ready[index]
            guard let receiver = cursor.receiver else {
                cursor.isQueued = false
                session.ready.remove(at: index)
                continue
            }
            let room = min(DeliveryScheduler.readBatchSize, DeliveryScheduler.batchSegments - session.output.pendingSegments)
            // One lock: read what is there, and when that drains the cursor, arm its wake-up
            // in the same step (nothing can slip in between, so a drained cursor always leaves
            // the ready list armed). Each message is visited in the ring: a small frame is
            // copied into the output queue there, a large message is kept by reference.
            let result: BroadcastBatch
            var skipped: UInt64 = 0
            if webSocket {
                result = readForWebSocket(receiver, cursor: cursor, session: session, room: room, skipped: &skipped)
            } else if session.protocolVersion == 2 {
                result = receiver.readBatch(upTo: room, armingWhenDrained: cursor.prepareToWait()) { slot, position in
                    // Inside the ring's lock: a message's version 2 frame is made once, by its first
                    // version 2 reader, and shared; its sequence is its position + 1.
                    // Looked at in place while made (no copy of the message); the first reader
                    // makes it, through a copy, once per message.
                    var frame = slot.pointee?.madeWholeVersionTwoFrame
                    if frame == nil, let message = slot.pointee {
                        message.makeVersionTwoFrame(seq: position &+ 1)
                        frame = message.madeWholeVersionTwoFrame
                    }
                    if let frame, frame.count <= OutputQueue.stageLimit {
                        session.output.appendFrame(frame, UnsafeRawBufferPointer(start: nil, count: 0))
                    } else if let message = slot.pointee {
                        session.output.appendMessage(message, sized: true)  // its frame is a header alone, or large
                    }
                    return true
                }
            } else {
                var taken = 0
                result = receiver.readBatch(upTo: room, armingWhenDrained: cursor.prepareToWait()) { slot, _ in
                    // A payload that cannot be one line is counted, in its place, in a LAGGED
                    // (PROTOCOL.md, "Payloads of any bytes"): the batch ends before such a run,
                    // or, when the run starts the batch, takes the run alone.
                    if slot.pointee?.isLineSafe == false {
                        if taken > skipped { return false }
                        skipped += 1
                        taken += 1
                        return true
                    }
                    if skipped > 0 { return false }
                    guard let bytes = slot.pointee?.bytes else { return true }
                    if bytes.count <= OutputQueue.stageLimit {
                        session.output.appendFrame(bytes, UnsafeRawBufferPointer(start: nil, count: 0))
                    } else if let message = slot.pointee {
                        session.output.appendMessage(message, sized: false)
                    }
                    taken += 1
                    return true
                }
            }
            if skipped > 0 { core.reportLag(cursor, missed: skipped, session: session) }
            if result.lagged > 0 {
                core.reportLag(cursor, missed: result.lagged, session: session)
                continue  // the messages follow on the next read of the same cursor
            }
            turnDelivered &+= UInt64(result.count) &- skipped
            if result.armed {
                cursor.isQueued = false
                session.ready.remove(at: index)
                continue
            }
            if result.closed {  // a sweep freed this topic: the subscription goes on without it
                session.forgetLags(of: cursor)
                core.store.forget(cursor)
                cursor.isQueued = false
                session.ready.remove(at: index)
                continue
            }
            index += 1  // a full batch: more may be waiting, after the other cursors' turn
        }
        if session.ready.count > 1 && index > 0 && index < session.ready.count {
            // Fairness: the next batch starts after the last cursor served. Rotated in place
            // by three reversals: no new array on the delivery path.
            session.ready[..<index].reverse()
            session.ready[index...].reverse()
            session.ready.reverse()
        }
    }

    /// Forgets every pending entry (the loop is ending).
    func removeAll() {
        wokenCursors.removeAll()
        dirty.removeAll()
        dirtyForDelivery.removeAll()
        sessions.removeAll()
    }
}
