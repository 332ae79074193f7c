// Incremental framing: bytes in any chunking in; complete lines, line-too-long and BPUB payloads out.

/// What the framer found in the input.
public enum FramerEvent {
    /// A complete, non-empty line without its LF (and without a CR right before
    /// the LF). The bytes are only valid during the callback.
    case line(UnsafeRawBufferPointer)
    /// A line passed `maxLineBytes`. Reported once per line, as soon as it is
    /// known; the rest of that line is discarded up to its LF.
    case lineTooLong
    /// The payload asked for with ``FramerDecision/readPayload(_:)``: exactly that
    /// many bytes, without the LF or CRLF that ended it. Only valid during the callback.
    case payload(UnsafeRawBufferPointer)
    /// The payload passed over with ``FramerDecision/skipPayload(_:)``, and its ending, are gone.
    case payloadSkipped
    /// The bytes after a payload were not LF or CRLF. Reported once; the framer is
    /// then broken (``LineFramer/isBroken``) and reports nothing more.
    case badFraming
}

/// What the framer should do after an event.
public enum FramerDecision: Hashable, Sendable {
    /// Deliver the next line.
    case proceed
    /// Stop here; the undelivered input is kept until ``LineFramer/resume(_:)``.
    case pause
    /// Only after a ``FramerEvent/line(_:)``: the next exactly `n` bytes are a payload
    /// (any bytes), followed by LF or CRLF; report them as ``FramerEvent/payload(_:)``.
    /// A negative `n` counts as 0. This is not a pause: delivery goes on.
    case readPayload(Int)
    /// Only after a ``FramerEvent/line(_:)``: discard the next `n` bytes and their LF or
    /// CRLF without holding them, then report ``FramerEvent/payloadSkipped``.
    case skipPayload(UInt64)
}

/// Splits a byte stream into lines, as PROTOCOL.md's framing rules say, and on
/// request reads the length-prefixed payload that follows a line (`BPUB` on the
/// server, a version 2 `MSG` on a client).
///
/// - Bytes may arrive in any chunking. Lines that lie whole inside a chunk are
///   lent to the callback straight from the chunk, without a copy; only an
///   incomplete line at the end of a chunk is copied into the framer.
/// - A CR directly before an LF is dropped; empty lines are skipped.
/// - A line longer than `maxLineBytes` (not counting the LF or a CR right before
///   it) yields one ``FramerEvent/lineTooLong`` as soon as it passes the maximum,
///   even if its LF never comes; its bytes are discarded up to the next LF and
///   framing continues with the following line.
/// - The bytes held for an incomplete line never exceed `maxLineBytes + 1` (the
///   one extra byte is a CR that may turn out to precede the LF).
/// - The callback may ask to ``FramerDecision/pause``; the framer then keeps the
///   rest of the input it was given (at most that chunk) until ``resume(_:)``.
///
/// Payloads: after a ``FramerEvent/line(_:)`` the callback may answer
/// ``FramerDecision/readPayload(_:)`` or ``FramerDecision/skipPayload(_:)``.
/// The framer then takes exactly that many bytes, whatever they are, and then
/// exactly one LF or CR LF, before it looks for lines again. `maxLineBytes` does not
/// apply to payloads.
/// - A read payload is reported once its ending has arrived, never before. It is
///   lent straight from the chunk when it lies whole in one chunk with its ending;
///   otherwise it is gathered in a buffer the framer owns (at most the payload's size).
/// - A skipped payload is never held, whatever its size.
/// - When the byte after a payload is not LF, or a CR after it is not followed by LF,
///   the framer reports ``FramerEvent/badFraming`` once, forgets all it holds, and
///   from then on delivers nothing (``isBroken``): the stream can no longer be read.
///   That `feed` or `resume` returns the callback's answer to `.badFraming` (`.pause`
///   or `.proceed`) but keeps nothing; later calls return `.proceed` until ``reset()``.
/// - After ``FramerEvent/payload(_:)`` or ``FramerEvent/payloadSkipped`` the callback
///   may pause. A payload decision after any event but `.line` is taken as `.proceed`.
///
/// A framer belongs to one connection and is used by one thread at a time.
public struct LineFramer: Sendable {
    /// The longest accepted line, in bytes.
    public var maxLineBytes: Int
    /// Input not delivered yet: an incomplete line, or (while paused) the rest of a chunk.
    private var held: [UInt8] = []
    /// The payload in progress and the part of it gathered so far; nil until the
    /// first payload decision, then kept for the next payload. Boxed, because few
    /// connections ever send a payload and a framer lives inside every connection's
    /// session: 32 bytes, not 40. Copy-on-write (``payloadBox()``), so framers stay values.
    private var payload: PayloadBox?
    /// True while `held` holds input that stopped at a pause (it may contain whole lines).
    public private(set) var isPaused = false
    /// True while the rest of an over-long line is being skipped.
    private var discarding = false
    /// True once a payload was followed by something other than LF or CRLF.
    public private(set) var isBroken = false

    public init(maxLineBytes: Int) {
        self.maxLineBytes = max(1, maxLineBytes)
    }

    /// Bytes the framer holds: an incomplete line, input kept at a pause, and the
    /// part of a payload gathered so far (0 when it holds nothing).
    public var heldByteCount: Int { held.count + (payload?.bytes.count ?? 0) }

    /// True while an incomplete line (or a line being discarded), or a payload with
    /// its ending, is in progress: input has begun that has not been reported yet.
    public var hasPartialLine: Bool { !held.isEmpty || discarding || isInPayload }

    /// True from a payload decision until the payload (or its skip) is reported.
    public var isInPayload: Bool {
        guard let payload else { return false }
        if case .none = payload.progress { return false }
        return true
    }

    /// Feeds one chunk and reports every event it completes, in order.
    /// Returns ``FramerDecision/pause`` if the callback paused; the rest is kept.
    /// Once the framer ``isBroken``, it ignores its input and returns `.proceed`.
    @discardableResult
    public mutating func feed(
        _ chunk: UnsafeRawBufferPointer,
        _ body: (FramerEvent) throws -> FramerDecision
    ) rethrows -> FramerDecision {
        if isBroken { return .proceed }
        if isPaused {
            held.append(contentsOf: chunk)
            return try resume(body)
        }
        var start = 0
        if discarding {
            guard let lf = chunk.firstIndex(of: ASCII.lf, from: 0) else { return .proceed }
            discarding = false
            start = lf + 1
        } else if !held.isEmpty {
            // Complete the line begun in an earlier chunk.
            guard let lf = chunk.firstIndex(of: ASCII.lf, from: 0) else {
                appendPartial(chunk)
                return try checkPartial(body)
            }
            start = lf + 1
            switch try finishHeldLine(with: chunk.slice(0..<lf), body) {
            case .proceed: break
            case .pause:
                keep(chunk.slice(start..<chunk.count))
                return .pause
            case let .readPayload(size): beginPayload(size: UInt64(max(0, size)), keep: true)
            case let .skipPayload(size): beginPayload(size: size, keep: false)
            }
        }
        return try scan(chunk, from: start, body)
    }

    /// Goes on delivering the input kept at a pause. Returns ``FramerDecision/pause``
    /// if the callback paused again.
    @discardableResult
    public mutating func resume(_ body: (FramerEvent) throws -> FramerDecision) rethrows -> FramerDecision {
        guard isPaused else { return .proceed }
        isPaused = false
        let pending = held
        held = []
        return try pending.withUnsafeBytes { try scan($0, from: 0, body) }
    }

    /// Forgets everything held and returns to the state of a new framer (the connection is closing).
    public mutating func reset() {
        held = []
        isPaused = false
        discarding = false
        payload = nil
        isBroken = false
    }

    // MARK: - Internals

    /// A payload's progress and the part of it gathered so far (see `payload`).
    ///
    /// `@unchecked Sendable`: a box is only changed through ``payloadBox()``, which
    /// copies it first unless this framer holds the only reference, so no box that
    /// two framers share is ever changed.
    private final class PayloadBox: @unchecked Sendable {
        // One framer, one thread, and no access overlaps another: the run-time exclusivity
        // checks (two per payload) are left out.
        /// How far the payload has come.
        @exclusivity(unchecked) var progress: PayloadProgress = .none
        /// The part of a read payload that arrived so far, when it spans chunks.
        @exclusivity(unchecked) var bytes: [UInt8] = []

        init() {}

        init(copying other: PayloadBox) {
            progress = other.progress
            bytes = other.bytes
        }
    }

    /// How far a payload has come.
    private enum PayloadProgress: Sendable {
        /// No payload: the framer looks for lines.
        case none
        /// `remaining` payload bytes are still to come; `keep` is false for a skip.
        case body(remaining: UInt64, keep: Bool)
        /// The payload is complete; its LF (after a CR when `sawCR`) is still to come.
        case ending(sawCR: Bool, keep: Bool)
    }

    /// Delivers the lines and payloads of `chunk[start...]`, then keeps or judges its incomplete tail.
    private mutating func scan(
        _ chunk: UnsafeRawBufferPointer, from start: Int,
        _ body: (FramerEvent) throws -> FramerDecision
    ) rethrows -> FramerDecision {
        var lineStart = start
        while true {
            if isInPayload {
                guard let decision = try advancePayload(chunk, &lineStart, body) else { return .proceed }
                if isBroken { return decision }
                if case .pause = decision {
                    keep(chunk.slice(lineStart..<chunk.count))
                    return .pause
                }
            }
            // The line loop, as tight as before payloads existed.
            while let lf = chunk.firstIndex(of: ASCII.lf, from: lineStart) {
                let decision = try deliver(chunk.slice(lineStart..<lf), body)
                lineStart = lf + 1
                switch decision {
                case .proceed: continue
                case .pause:
                    keep(chunk.slice(lineStart..<chunk.count))
                    return .pause
                case let .readPayload(size):
                    // The usual case: the payload and its ending are in this chunk. It is lent
                    // at once, without the payload state that spans chunks.
                    if let lf = LineFramer.endingOfWholePayload(chunk, from: lineStart, size: size) {
                        guard chunk[lf] == ASCII.lf else { return try breakFraming(body) }
                        let decision = LineFramer.withoutPayload(try body(.payload(chunk.slice(lineStart..<(lineStart + size)))))
                        lineStart = lf + 1
                        if case .pause = decision {
                            keep(chunk.slice(lineStart..<chunk.count))
                            return .pause
                        }
                        continue
                    }
                    beginPayload(size: UInt64(max(0, size)), keep: true)
                case let .skipPayload(size): beginPayload(size: size, keep: false)
                }
                break
            }
            if !isInPayload { break }
        }
        if lineStart < chunk.count {
            appendPartial(chunk.slice(lineStart..<chunk.count))
            return try checkPartial(body)
        }
        return .proceed
    }

    /// Judges one complete line (without its LF) and reports it.
    private func deliver(
        _ raw: UnsafeRawBufferPointer, _ body: (FramerEvent) throws -> FramerDecision
    ) rethrows -> FramerDecision {
        var line = raw
        if line.last == ASCII.cr { line = line.slice(0..<(line.count - 1)) }
        if line.isEmpty { return .proceed }
        if line.count > maxLineBytes { return LineFramer.withoutPayload(try body(.lineTooLong)) }
        return try body(.line(line))
    }

    /// Joins the held partial line with `rest` (the bytes up to its LF) and reports it.
    private mutating func finishHeldLine(
        with rest: UnsafeRawBufferPointer, _ body: (FramerEvent) throws -> FramerDecision
    ) rethrows -> FramerDecision {
        // The held part is at most max + 1 bytes, so the joined line is over-long
        // as soon as held + rest is more than max + 1 (a final CR is not counted).
        if held.count + rest.count > maxLineBytes + 1 {
            held = []
            return LineFramer.withoutPayload(try body(.lineTooLong))
        }
        held.append(contentsOf: rest)
        let decision = try held.withUnsafeBytes { try deliver($0, body) }
        release()
        return decision
    }

    /// Copies part of an incomplete line, never holding more than max + 2 bytes.
    private mutating func appendPartial(_ bytes: UnsafeRawBufferPointer) {
        let room = maxLineBytes + 2 - held.count
        if bytes.count <= room {
            held.append(contentsOf: bytes)
        } else if room > 0 {
            held.append(contentsOf: bytes.slice(0..<room))
        }
    }

    /// Reports `lineTooLong` once the incomplete line is certain to pass the maximum.
    private mutating func checkPartial(_ body: (FramerEvent) throws -> FramerDecision) rethrows -> FramerDecision {
        let count = held.count
        let over = count > maxLineBytes + 1 || (count == maxLineBytes + 1 && held[count - 1] != ASCII.cr)
        guard over else { return .proceed }
        release()
        discarding = true
        return LineFramer.withoutPayload(try body(.lineTooLong))
    }

    /// Keeps the undelivered rest of a chunk after a pause.
    private mutating func keep(_ rest: UnsafeRawBufferPointer) {
        held = Array(rest)
        isPaused = true
    }

    /// Empties `held`, giving back a large allocation so idle connections stay small.
    private mutating func release() {
        if held.capacity > 1024 { held = [] } else { held.removeAll(keepingCapacity: true) }
    }

    /// A payload decision where none is possible (after an event that is not a line) goes on as `.proceed`.
    private static func withoutPayload(_ decision: FramerDecision) -> FramerDecision {
        switch decision {
        case .proceed, .readPayload, .skipPayload: .proceed
        case .pause: .pause
        }
    }

    // MARK: - Payloads

    private mutating func beginPayload(size: UInt64, keep: Bool) {
        payloadBox().progress = .body(remaining: size, keep: keep)
    }

    /// The payload box, made first if there is none, and copied first if another
    /// framer (a copy of this one) shares it.
    private mutating func payloadBox() -> PayloadBox {
        // Checked before any other reference to the box is taken: a binding made first
        // (`if let box = payload`) is itself a second reference, and made every call copy.
        if payload == nil {
            let made = PayloadBox()
            payload = made
            return made
        }
        if !isKnownUniquelyReferenced(&payload), let shared = payload { payload = PayloadBox(copying: shared) }
        return payload.unsafelyUnwrapped
    }

    /// Takes payload bytes and then the payload's ending from `chunk[position...]`.
    /// Returns the callback's decision once the payload was reported (or framing
    /// broke), with `position` just after the ending; nil when the chunk ran out first.
    private mutating func advancePayload(
        _ chunk: UnsafeRawBufferPointer, _ position: inout Int,
        _ body: (FramerEvent) throws -> FramerDecision
    ) rethrows -> FramerDecision? {
        guard payload != nil else { return .proceed }
        let box = payloadBox()
        while true {
            switch box.progress {
            case .none:
                return .proceed
            case let .body(remaining, keep):
                let available = UInt64(chunk.count - position)
                if keep && box.bytes.isEmpty && remaining < available,
                   let lf = LineFramer.endingOfWholePayload(chunk, from: position, size: Int(remaining)) {
                    // The whole payload and its ending are here: lend it from the chunk.
                    guard chunk[lf] == ASCII.lf else { return try breakFraming(body) }
                    box.progress = .none
                    let decision = try body(.payload(chunk.slice(position..<(position + Int(remaining)))))
                    position = lf + 1
                    return LineFramer.withoutPayload(decision)
                }
                let taken = min(available, remaining)
                if keep && taken > 0 { box.bytes.append(contentsOf: chunk.slice(position..<(position + Int(taken)))) }
                position += Int(taken)
                box.progress = remaining == taken ? .ending(sawCR: false, keep: keep) : .body(remaining: remaining - taken, keep: keep)
                if remaining != taken { return nil }
            case let .ending(sawCR, keep):
                guard position < chunk.count else { return nil }
                let byte = chunk[position]
                if byte == ASCII.cr && !sawCR {
                    position += 1
                    box.progress = .ending(sawCR: true, keep: keep)
                    continue
                }
                guard byte == ASCII.lf else { return try breakFraming(body) }
                position += 1
                box.progress = .none
                return LineFramer.withoutPayload(try keep ? LineFramer.reportGathered(box, body) : body(.payloadSkipped))
            }
        }
    }

    /// Where the LF after a payload of `size` bytes at `chunk[start...]` must be (after a
    /// CR, if one follows the payload), when the payload and that byte are both in the
    /// chunk; nil when the chunk ends first (or `size` is negative). The caller checks the LF.
    @inline(__always)
    private static func endingOfWholePayload(_ chunk: UnsafeRawBufferPointer, from start: Int, size: Int) -> Int? {
        guard size >= 0, size < chunk.count - start else { return nil }
        let end = start + size
        let lf = chunk[end] == ASCII.cr ? end + 1 : end
        return lf < chunk.count ? lf : nil
    }

    /// Reports a payload gathered across chunks, then empties its buffer (giving
    /// back a large allocation).
    private static func reportGathered(
        _ box: PayloadBox, _ body: (FramerEvent) throws -> FramerDecision
    ) rethrows -> FramerDecision {
        let decision = try box.bytes.withUnsafeBytes { try body(.payload($0)) }
        if box.bytes.capacity > 1024 { box.bytes = [] } else { box.bytes.removeAll(keepingCapacity: true) }
        return decision
    }

    /// The stream cannot be read any more: forget everything, report it once.
    private mutating func breakFraming(_ body: (FramerEvent) throws -> FramerDecision) rethrows -> FramerDecision {
        reset()
        isBroken = true
        return LineFramer.withoutPayload(try body(.badFraming))
    }
}
