// A connection's pending output: reply bytes and shared message frames, in write order.
import Posix
import Glibc
import Protocol

/// What a connection still has to write, in order: runs of control bytes
/// (replies, `LAGGED`, `BYE`) kept in one byte buffer, runs of small message
/// frames copied into a second one, and runs of messages held by reference —
/// an iovec points at each one's own bytes.
///
/// A frame of up to ``stageLimit`` bytes is copied here as it is read from its
/// ring (``appendFrame(_:_:)``, inside the ring's lock): the copy the write would
/// make into its staging buffer anyway, made earlier, and no reference is taken,
/// so no retain or release per delivery. The frames go into the loop's scratch
/// (``lendFramesScratch(_:)``), and only what the write that follows leaves
/// unwritten is moved into memory of the queue's own, exactly its size: a
/// subscriber that keeps up, or is idle, holds no frame memory. Larger messages are read into this
/// queue's slots (``reserveMessages(_:)`` then ``commitMessages(_:)``, or
/// ``appendMessage(_:sized:)``) and released as soon as they are written.
///
/// Loop thread only. The owner bounds it: messages are only added while it is
/// empty (one batch at a time), and control bytes are bounded by pausing input.
/// It owns its memory: noncopyable, and what it still holds (message slots and
/// the messages in them) is released in `deinit`.
struct OutputQueue: ~Copyable {
    /// A run of output: bytes `start..<end` of `control`, or message slots `start..<end`
    /// written in one framing.
    private struct Segment {
        var kind: Kind
        var start: Int
        var end: Int

        var isMessages: Bool { kind == .lines || kind == .sized }
    }

    /// What a segment holds.
    private enum Kind: UInt8 {
        case control
        /// Bytes of `frames`: message frames copied whole.
        case frames
        /// Messages as version 1 `MSG` lines.
        case lines
        /// Messages as version 2 sized frames (each message's header is made).
        case sized
        /// A reply not known yet (``reserveReply()``): the write stops before it until
        /// ``fulfilReply(_:_:)`` makes it a control segment.
        case awaitedReply
    }

    // The counts and offsets are stored as `Int32` (a queue holds far less than 2 GiB:
    // input pauses at ``Session/replyHighWater``, a batch is bounded by
    // ``DeliveryScheduler/batchFrameBytes``), read and written as `Int`: the queue takes
    // 88 bytes of each session, not 145 (fanbench conns: the session 384 -> 320 bytes of heap).

    /// Storage of the runs: `segments[head..<segmentCount]` are pending. Entries past
    /// `segmentCount` are stale and overwritten (emptying never goes through
    /// `removeAll`, whose generic path callgrind showed on every write).
    private var segments: [Segment] = []
    private var segmentCount: Int { get { Int(segmentCountStored) } set { segmentCountStored = Int32(truncatingIfNeeded: newValue) } }
    /// Index of the first segment not completely written.
    private var head: Int { get { Int(headStored) } set { headStored = Int32(truncatingIfNeeded: newValue) } }
    /// Bytes already written of the first unwritten control segment or message.
    private var headOffset: Int { get { Int(headOffsetStored) } set { headOffsetStored = Int32(truncatingIfNeeded: newValue) } }
    /// Backing store of every control segment.
    private var control: [UInt8] = []
    /// Control bytes appended and not written yet (an awaited reply's bytes go to the end
    /// of `control` when they come, so written bytes are not always a prefix).
    private var controlUnwritten: Int { get { Int(controlUnwrittenStored) } set { controlUnwrittenStored = Int32(truncatingIfNeeded: newValue) } }
    /// Message slots; `messageStart..<messageEnd` are initialized.
    private var messages: UnsafeMutablePointer<Message>?
    private var messageCapacity: Int { get { Int(messageCapacityStored) } set { messageCapacityStored = Int32(truncatingIfNeeded: newValue) } }
    private var messageStart: Int { get { Int(messageStartStored) } set { messageStartStored = Int32(truncatingIfNeeded: newValue) } }
    private var messageEnd: Int { get { Int(messageEndStored) } set { messageEndStored = Int32(truncatingIfNeeded: newValue) } }
    /// The most message slots used since the queue was last empty.
    private var messagePeak: Int { get { Int(messagePeakStored) } set { messagePeakStored = Int32(truncatingIfNeeded: newValue) } }
    /// Backing store of every frames segment: `framesCount` bytes used, of which
    /// `framesWritten` are written. Manually managed: appends are on the delivery path.
    /// While `framesBorrowed`, it is the loop's scratch, lent until the next write ends.
    private var frames: UnsafeMutableRawPointer?
    private var framesBorrowed = false
    private var framesCapacity: Int { get { Int(framesCapacityStored) } set { framesCapacityStored = Int32(truncatingIfNeeded: newValue) } }
    private var framesCount: Int { get { Int(framesCountStored) } set { framesCountStored = Int32(truncatingIfNeeded: newValue) } }
    private var framesWritten: Int { get { Int(framesWrittenStored) } set { framesWrittenStored = Int32(truncatingIfNeeded: newValue) } }
    /// Frames copied since the queue was last empty (they count as pending pieces).
    private var framesAppended: Int { get { Int(framesAppendedStored) } set { framesAppendedStored = Int32(truncatingIfNeeded: newValue) } }
    /// Where the frames appended since the last ``sealFrames()`` begin (-1: none): their
    /// segment is written once per run, not once per frame.
    private var openFramesStart: Int { get { Int(openFramesStartStored) } set { openFramesStartStored = Int32(truncatingIfNeeded: newValue) } }

    /// Whether each server frame goes out as one WebSocket message (PROTOCOL.md,
    /// "Transports"): control bytes are wrapped as they are appended (``appendControl(_:)``,
    /// ``fulfilReply(_:_:)``), message frames come wrapped from the gather
    /// (``DeliveryScheduler/gather(for:)``), so a write sends the queue as it is.
    var carriesWebSocket = false

    // The stored counts (see above), after the references and flags: no padding between.
    private var segmentCountStored: Int32 = 0
    private var headStored: Int32 = 0
    private var headOffsetStored: Int32 = 0
    private var controlUnwrittenStored: Int32 = 0
    private var messageCapacityStored: Int32 = 0
    private var messageStartStored: Int32 = 0
    private var messageEndStored: Int32 = 0
    private var messagePeakStored: Int32 = 0
    private var framesCapacityStored: Int32 = 0
    private var framesCountStored: Int32 = 0
    private var framesWrittenStored: Int32 = 0
    private var framesAppendedStored: Int32 = 0
    private var openFramesStartStored: Int32 = -1

    init() {}

    deinit {
        if let messages {
            (messages + messageStart).deinitialize(count: messageEnd - messageStart)
            messages.deallocate()
        }
        if !framesBorrowed { frames?.deallocate() }
    }

    var isEmpty: Bool { head == segmentCount && openFramesStart < 0 }

    /// Message slots and control runs not yet completely written.
    var pendingSegments: Int { (messageEnd - messageStart) + (segmentCount - head) + framesAppended }

    /// Bytes of copied frames not yet written.
    var pendingFrameBytes: Int { framesCount - framesWritten }

    /// Lends the loop's scratch to hold the frames of the next batch, when the queue
    /// holds none (else nothing changes). ``returnFramesScratch()`` gives it back,
    /// keeping what is not written yet in the queue's own memory: the session calls it
    /// at the end of each gather-and-write step (``Session/flush()``), before another
    /// session's batch can use the scratch.
    mutating func lendFramesScratch(_ scratch: UnsafeMutableRawBufferPointer) {
        guard frames == nil, let base = scratch.baseAddress else { return }
        frames = base
        framesCapacity = scratch.count
        framesBorrowed = true
    }

    /// Gives the loop's scratch back, moving the frames not yet written (if any) into
    /// an allocation of exactly their size.
    mutating func returnFramesScratch() {
        guard framesBorrowed else { return }
        framesBorrowed = false
        let pending = framesCount - framesWritten
        guard pending > 0, let scratch = frames else {
            frames = nil
            framesCapacity = 0
            framesCount = 0
            framesWritten = 0
            return
        }
        sealFrames()
        let owned = UnsafeMutableRawPointer.allocate(byteCount: pending, alignment: 16)
        owned.copyMemory(from: scratch + framesWritten, byteCount: pending)
        // Offsets move down by what was written (the head segment's start may go below
        // zero: its written part, which `headOffset` skips).
        let shift = framesWritten
        for index in head..<segmentCount where segments[index].kind == .frames {
            segments[index].start -= shift
            segments[index].end -= shift
        }
        frames = owned
        framesCapacity = pending
        framesCount = pending
        framesWritten = 0
    }

    /// Copies one message frame (`first` then `second`, which may be empty) to the end
    /// of the queue. For frames of at most ``stageLimit`` bytes.
    @inline(__always)
    mutating func appendFrame(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) {
        let start = framesCount
        let end = start + first.count + second.count
        if end > framesCapacity { growFrames(toHold: end) }
        guard let frames else { return }
        if let source = first.baseAddress { (frames + start).copyMemory(from: source, byteCount: first.count) }
        if let source = second.baseAddress { (frames + start + first.count).copyMemory(from: source, byteCount: second.count) }
        framesCount = end
        framesAppended += 1
        if openFramesStart < 0 { openFramesStart = start }
    }

    /// Gives the frames appended since the last call their segment (joined to the last
    /// one when that ends where they begin). Called before anything else is appended,
    /// and before a write.
    @inline(__always)
    private mutating func sealFrames() {
        guard openFramesStart >= 0 else { return }
        if segmentCount > head, segments[segmentCount - 1].kind == .frames, segments[segmentCount - 1].end == openFramesStart {
            segments[segmentCount - 1].end = framesCount
        } else {
            appendSegment(Segment(kind: .frames, start: openFramesStart, end: framesCount))
        }
        openFramesStart = -1
    }

    /// Appends one message, held by reference, written as a version 1 line or, with
    /// `sized`, as its version 2 frame (already made).
    mutating func appendMessage(_ message: Message, sized: Bool) {
        let slot = reserveMessages(1)
        guard let base = slot.baseAddress else { return }
        base.initialize(to: message)
        commitMessages(1, sized: sized)
    }

    /// Bytes not yet written: replies, copied frames, and the frames of messages held by
    /// reference (counted whole: an estimate while one is partly written). Walks the messages.
    var pendingBytes: Int {
        var total = controlUnwritten + (framesCount - framesWritten)
        if let messages {
            for slot in messageStart..<messageEnd { total += messages[slot].count }
        }
        return total
    }

    /// Control bytes not yet written (replies the client has not read yet).
    var pendingControlBytes: Int { controlUnwritten }

    /// Whether the next thing to write is a reply not known yet: nothing can be written
    /// until it is fulfilled (a transport need not watch for writability meanwhile).
    var isWaitingForReply: Bool { head < segmentCount && segments[head].kind == .awaitedReply }

    /// Reserves the place of a reply that comes later (a publish answered by another
    /// process): whatever is appended after it waits behind it. Returns the reply's slot.
    mutating func reserveReply() -> Int {
        sealFrames()
        appendSegment(Segment(kind: .awaitedReply, start: 0, end: 0))
        return segmentCount - 1
    }

    /// Writes the reply reserved as `slot` (bytes by `encode`, an encoder call) in its
    /// place. A slot that is no longer awaited (the queue was emptied by a close) is ignored.
    mutating func fulfilReply(_ slot: Int, _ encode: (inout [UInt8]) -> Void) {
        guard slot >= head, slot < segmentCount, segments[slot].kind == .awaitedReply else { return }
        let start = control.count
        encode(&control)
        if carriesWebSocket { wrapAsWebSocketMessages(from: start) }
        controlUnwritten += control.count - start
        segments[slot] = Segment(kind: .control, start: start, end: control.count)
    }

    /// Appends control bytes written by `body` (an encoder call): server frames, each
    /// wrapped as a WebSocket message when the queue ``carriesWebSocket``.
    mutating func appendControl(_ body: (inout [UInt8]) -> Void) {
        sealFrames()
        let start = control.count
        body(&control)
        if carriesWebSocket { wrapAsWebSocketMessages(from: start) }
        appendControlSegment(from: start)
    }

    /// Appends bytes written by `body` as they are: a WebSocket transport's own frames
    /// (the handshake's response, a pong), after everything queued before them.
    mutating func appendTransportBytes(_ body: (inout [UInt8]) -> Void) {
        sealFrames()
        let start = control.count
        body(&control)
        appendControlSegment(from: start)
    }

    /// Makes `control[start...]`, just written, the last control run.
    @inline(__always)
    private mutating func appendControlSegment(from start: Int) {
        let end = control.count
        guard end > start else { return }
        controlUnwritten += end - start
        if segmentCount > head, segments[segmentCount - 1].kind == .control, segments[segmentCount - 1].end == start {
            segments[segmentCount - 1].end = end
        } else {
            appendSegment(Segment(kind: .control, start: start, end: end))
        }
    }

    /// Makes each server frame in `control[start...]` (replies, `LAGGED`, `BYE`: lines) one
    /// WebSocket message, text when it is UTF-8 and binary otherwise. Not on the delivery
    /// path: messages are framed as they are gathered.
    private mutating func wrapAsWebSocketMessages(from start: Int) {
        guard control.count > start else { return }
        let frames = Array(control[start...])
        control.removeSubrange(start...)
        frames.withUnsafeBytes { all in
            var offset = 0
            while offset < all.count {
                let rest = UnsafeRawBufferPointer(rebasing: all[offset...])
                let length = ServerFrameSplitter.firstFrameLength(in: rest, version: 1) ?? rest.count
                let frame = UnsafeRawBufferPointer(rebasing: rest[0..<length])
                WebSocketFrameEncoder.appendMessage(frame, to: &control)
                offset += length
            }
        }
    }

    /// Whether the next byte to write begins a piece the queue was given whole (a control
    /// run, a message, a run of frames): with a WebSocket, where a close frame may follow
    /// without cutting a message.
    var startsAtPieceBoundary: Bool { headOffset == 0 }

    /// Uninitialized room for up to `count` messages at the end of the queue;
    /// fill a prefix of it, then call ``commitMessages(_:)``.
    mutating func reserveMessages(_ count: Int) -> UnsafeMutableBufferPointer<Message> {
        if messageEnd + count > messageCapacity { growMessages(toHold: messageEnd + count) }
        guard let messages else { return UnsafeMutableBufferPointer(start: nil, count: 0) }
        return UnsafeMutableBufferPointer(start: messages + messageEnd, count: count)
    }

    /// Takes the first `count` slots of the last reservation, now initialized, to
    /// be written as version 1 lines or, with `sized`, as version 2 frames (which
    /// the caller has made: ``Message/makeVersionTwoFrame(seq:)``).
    mutating func commitMessages(_ count: Int, sized: Bool = false) {
        guard count > 0 else { return }
        sealFrames()
        let start = messageEnd
        let kind: Kind = sized ? .sized : .lines
        messageEnd += count
        messagePeak = max(messagePeak, messageEnd)
        if segmentCount > head, segments[segmentCount - 1].kind == kind, segments[segmentCount - 1].end == start {
            segments[segmentCount - 1].end = messageEnd
        } else {
            appendSegment(Segment(kind: kind, start: start, end: messageEnd))
        }
    }

    private mutating func appendSegment(_ segment: Segment) {
        if segmentCount < segments.count {
            segments[segmentCount] = segment
        } else {
            segments.append(segment)
        }
        segmentCount += 1
    }

    /// A reply buffer up to this size, after a write that carried no message, is freed
    /// rather than kept (``reset()``): a few replies' worth.
    static let smallReplyBytes = 64

    /// Pieces up to this size are gathered into the staging buffer rather than
    /// given their own iovec: the kernel copies one large piece much faster than
    /// hundreds of 30-byte ones (perf: `_copy_from_iter` per iovec dominated).
    static let stageLimit = 512

    /// Writes as much as the peer takes with one call of `send`, given up to
    /// `vectors.count` pieces. Small pieces are first copied, in order, into
    /// `staging` — scratch that lives only for this call: what `send` does not
    /// take stays described by the queue (its messages are still held), nothing
    /// is queued twice. `send` is the transport's: it returns the bytes taken
    /// from the front of the pieces, or `.wouldBlock`. Returns what `send` did.
    @inline(__always)
    mutating func write<Failure: Error>(
        vectors: UnsafeMutableBufferPointer<iovec>, staging: UnsafeMutableRawBufferPointer,
        send: (UnsafeBufferPointer<iovec>) throws(Failure) -> IOResult<Int>
    ) throws(Failure) -> IOResult<Int> {
        sealFrames()
        // The iovecs may point into `control`'s buffer: they are sent while it is pinned.
        let result: Result<IOResult<Int>, Failure> = control.withUnsafeBytes { controlBytes in
            let count = gather(control: controlBytes, into: vectors, staging: staging)
            if count == 0 { return .success(.done(0)) }  // waiting for a reply: nothing to send yet
            return Result { () throws(Failure) in try send(UnsafeBufferPointer(rebasing: vectors[0..<count])) }
        }
        let outcome = try result.get()
        if case let .done(written) = outcome { consume(written) }
        return outcome
    }

    /// Describes the front of the queue as up to `vectors.count` iovecs (small
    /// pieces copied into `staging`); returns how many were filled. Valid while
    /// `controlBytes` (the control buffer) is.
    private func gather(
        control controlBytes: UnsafeRawBufferPointer, into vectors: UnsafeMutableBufferPointer<iovec>,
        staging: UnsafeMutableRawBufferPointer
    ) -> Int {
        var gather = Gather(vectors: vectors, staging: staging)
        var index = head
        var skip = headOffset
        fill: while index < segmentCount {
            let segment = segments[index]
            if segment.kind == .lines, let messages {
                // The head run may be partly written: start at the first unwritten message.
                for slot in max(segment.start, messageStart)..<segment.end {
                    let bytes = messages[slot].bytes
                    if !gather.add(UnsafeRawBufferPointer(rebasing: bytes[skip...])) { break fill }
                    skip = 0
                }
            } else if segment.kind == .sized, let messages {
                for slot in max(segment.start, messageStart)..<segment.end {
                    let (first, rest) = messages[slot].versionTwoPieces
                    if rest.isEmpty {  // a whole frame: one piece, as a version 1 line
                        if !gather.add(UnsafeRawBufferPointer(rebasing: first[skip...])) { break fill }
                    } else if skip < first.count {
                        // Both pieces or none: a frame is never cut between them by a full batch.
                        if !gather.add(UnsafeRawBufferPointer(rebasing: first[skip...]), rest) { break fill }
                    } else {
                        if !gather.add(UnsafeRawBufferPointer(rebasing: rest[(skip - first.count)...])) { break fill }
                    }
                    skip = 0
                }
            } else if segment.kind == .awaitedReply {
                break fill  // nothing after a reply not known yet is written before it
            } else if segment.kind == .frames, let frames {
                let bytes = UnsafeRawBufferPointer(start: frames + segment.start + skip, count: segment.end - segment.start - skip)
                if !gather.add(bytes) { break }
                skip = 0
            } else {
                let bytes = UnsafeRawBufferPointer(rebasing: controlBytes[(segment.start + skip)..<segment.end])
                if !gather.add(bytes) { break }
                skip = 0
            }
            index += 1
        }
        return gather.count
    }

    /// Drops everything not yet written and frees the message slots.
    mutating func removeAll() {
        if let messages {
            (messages + messageStart).deinitialize(count: messageEnd - messageStart)
            messages.deallocate()
        }
        messages = nil
        messageCapacity = 0
        messageStart = 0
        messageEnd = 0
        messagePeak = 0
        segments = []
        segmentCount = 0
        head = 0
        headOffset = 0
        control.removeAll()
        controlUnwritten = 0
        dropFrames()
    }

    /// Frees the frames memory of the queue's own, or lets go of the loop's scratch.
    private mutating func dropFrames() {
        if !framesBorrowed { frames?.deallocate() }
        frames = nil
        framesBorrowed = false
        framesCapacity = 0
        framesCount = 0
        framesWritten = 0
        framesAppended = 0
        openFramesStart = -1
    }

    /// Advances past `written` bytes, releasing each message once it is written.
    private mutating func consume(_ written: Int) {
        var remaining = written
        while remaining > 0 && head < segmentCount {
            let segment = segments[head]
            if segment.isMessages, let messages {
                let sized = segment.kind == .sized
                while remaining > 0 && messageStart < segment.end {
                    let length = sized ? messages[messageStart].versionTwoFrameCount : messages[messageStart].count
                    let left = length - headOffset
                    if remaining >= left {
                        remaining -= left
                        (messages + messageStart).deinitialize(count: 1)
                        messageStart += 1
                        headOffset = 0
                    } else {
                        headOffset += remaining
                        remaining = 0
                    }
                }
                if messageStart == segment.end { head += 1 }
            } else {
                let left = segment.end - segment.start - headOffset
                let isFrames = segment.kind == .frames
                let taken = min(remaining, left)
                if !isFrames { controlUnwritten -= taken }
                if remaining >= left {
                    remaining -= left
                    if isFrames { framesWritten = segment.end }
                    head += 1
                    headOffset = 0
                } else {
                    headOffset += remaining
                    if isFrames { framesWritten = segment.start + headOffset }
                    remaining = 0
                }
            }
        }
        if head == segmentCount { reset() }
    }

    /// Empties the queue; keeps buffers a busy connection will reuse, frees those
    /// an occasional one would only hold.
    private mutating func reset() {
        head = 0
        headOffset = 0
        controlUnwritten = 0
        segmentCount = 0
        if segments.count > 256 { segments = [] }
        if control.capacity > 65_536 {
            control = []
        } else if !control.isEmpty {
            // A write of a few replies and no message (a SUB's OK, a request's answer) leaves
            // nothing behind: an idle connection holds no reply buffer or list of runs. What
            // carried messages, or many replies (a pipelining publisher), keeps them for the
            // next write. (A write of messages alone does not come here: no extra work.)
            if control.capacity <= OutputQueue.smallReplyBytes && framesAppended == 0 && messagePeak == 0 {
                control = []
                segments = []
            } else {
                control.removeAll(keepingCapacity: true)
            }
        }
        dropFrames()  // memory of the queue's own held only what a write left
        messageStart = 0
        messageEnd = 0
        // Slots are reserved for exactly what a read takes, so a quiet connection holds
        // at most 64 (512 bytes); larger buffers go once a batch uses under a quarter.
        if messageCapacity > 64 && messagePeak < messageCapacity / 4, let messages {
            messages.deallocate()
            self.messages = nil
            messageCapacity = 0
        }
        messagePeak = 0
    }

    /// Makes room for `wanted` bytes of frames (the bytes so far kept in place: no
    /// iovec points into them while frames are appended).
    private mutating func growFrames(toHold wanted: Int) {
        var capacity = max(4096, framesCapacity)
        while capacity < wanted { capacity *= 2 }
        let larger = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        if let frames {
            larger.copyMemory(from: frames, byteCount: framesCount)
            if !framesBorrowed { frames.deallocate() }
        }
        frames = larger
        framesBorrowed = false  // past the scratch: the queue's own memory from here on
        framesCapacity = capacity
    }

    /// Makes room for `wanted` slots (moving the live ones to the front).
    private mutating func growMessages(toHold wanted: Int) {
        var capacity = max(16, messageCapacity)
        while capacity < wanted { capacity *= 2 }
        let larger = UnsafeMutablePointer<Message>.allocate(capacity: capacity)
        if let messages {
            // Slots before messageStart are already written and released.
            (larger + messageStart).moveInitialize(from: messages + messageStart, count: messageEnd - messageStart)
            messages.deallocate()
        }
        messages = larger
        messageCapacity = capacity
    }
}

/// Builds the iovecs of one `writev`: runs of small pieces copied into the
/// staging buffer share one iovec; large pieces get their own.
private struct Gather {
    let vectors: UnsafeMutableBufferPointer<iovec>
    let staging: UnsafeMutableRawBufferPointer
    /// iovecs filled so far.
    var count = 0
    /// Bytes of `staging` used so far.
    var staged = 0
    /// True while the last iovec points into `staging` and can grow.
    var lastIsStaged = false

    init(vectors: UnsafeMutableBufferPointer<iovec>, staging: UnsafeMutableRawBufferPointer) {
        self.vectors = vectors
        self.staging = staging
    }

    /// Adds two pieces, or neither; false when this write is full.
    mutating func add(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) -> Bool {
        // The usual case, a version 2 frame of a small message: both go into staging at once.
        let total = first.count + second.count
        if total <= OutputQueue.stageLimit && staged + total <= staging.count,
           let base = staging.baseAddress, let one = first.baseAddress, let two = second.baseAddress {
            if !lastIsStaged {
                if count == vectors.count { return false }
                vectors[count] = iovec(iov_base: base + staged, iov_len: 0)
                count += 1
                lastIsStaged = true
            }
            (base + staged).copyMemory(from: one, byteCount: first.count)
            (base + staged + first.count).copyMemory(from: two, byteCount: second.count)
            vectors[count - 1].iov_len += total
            staged += total
            return true
        }
        let (savedCount, savedStaged, savedLastIsStaged) = (count, staged, lastIsStaged)
        let savedLength = count > 0 ? vectors[count - 1].iov_len : 0
        if add(first) && add(second) { return true }
        (count, staged, lastIsStaged) = (savedCount, savedStaged, savedLastIsStaged)
        if count > 0 { vectors[count - 1].iov_len = savedLength }
        return false
    }

    /// Adds one piece; false when this write is full (the piece was not added).
    mutating func add(_ piece: UnsafeRawBufferPointer) -> Bool {
        guard let source = piece.baseAddress, !piece.isEmpty else { return true }
        if piece.count <= OutputQueue.stageLimit && staged + piece.count <= staging.count, let base = staging.baseAddress {
            (base + staged).copyMemory(from: source, byteCount: piece.count)
            if lastIsStaged {
                vectors[count - 1].iov_len += piece.count
            } else {
                if count == vectors.count { return false }
                vectors[count] = iovec(iov_base: base + staged, iov_len: piece.count)
                count += 1
                lastIsStaged = true
            }
            staged += piece.count
            return true
        }
        if piece.count <= OutputQueue.stageLimit && count > 0 { return false }  // staging full: write what we have
        if count == vectors.count { return false }
        vectors[count] = iovec(iov_base: UnsafeMutableRawPointer(mutating: source), iov_len: piece.count)
        count += 1
        lastIsStaged = false
        return true
    }
}
