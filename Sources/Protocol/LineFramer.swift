// Incremental line framing: bytes in any chunking in, complete lines (or line-too-long) out.

/// What the framer found in the input.
public enum FramerEvent {
    /// A complete, non-empty line without its LF (and without a CR right before
    /// the LF). The bytes are only valid during the callback.
    case line(UnsafeRawBufferPointer)
    /// A line passed `maxLineBytes`. Reported once per line, as soon as it is
    /// known; the rest of that line is discarded up to its LF.
    case lineTooLong
}

/// Whether the framer should go on delivering lines after an event.
public enum FramerDecision: Sendable {
    /// Deliver the next line.
    case proceed
    /// Stop here; the undelivered input is kept until ``LineFramer/resume(_:)``.
    case pause
}

/// Splits a byte stream into lines, as PROTOCOL.md's framing rules say.
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
/// A framer belongs to one connection and is used by one thread at a time.
public struct LineFramer: Sendable {
    /// The longest accepted line, in bytes.
    public var maxLineBytes: Int
    /// Input not delivered yet: an incomplete line, or (while paused) the rest of a chunk.
    private var held: [UInt8] = []
    /// True while `held` holds input that stopped at a pause (it may contain whole lines).
    public private(set) var isPaused = false
    /// True while the rest of an over-long line is being skipped.
    private var discarding = false

    public init(maxLineBytes: Int) {
        self.maxLineBytes = max(1, maxLineBytes)
    }

    /// Bytes held for an incomplete line (0 when the framer holds no partial line).
    public var heldByteCount: Int { held.count }

    /// True while an incomplete line (or a line being discarded) is in progress.
    public var hasPartialLine: Bool { !held.isEmpty || discarding }

    /// Feeds one chunk and reports every event it completes, in order.
    /// Returns ``FramerDecision/pause`` if the callback paused; the rest is kept.
    @discardableResult
    public mutating func feed(
        _ chunk: UnsafeRawBufferPointer,
        _ body: (FramerEvent) throws -> FramerDecision
    ) rethrows -> FramerDecision {
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
            let decision = try finishHeldLine(with: chunk.slice(0..<lf), body)
            if decision == .pause {
                keep(chunk.slice(start..<chunk.count))
                return .pause
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

    /// Forgets everything held (the connection is closing).
    public mutating func reset() {
        held = []
        isPaused = false
        discarding = false
    }

    // MARK: - Internals

    /// Delivers the lines of `chunk[start...]`, then keeps or judges its incomplete tail.
    private mutating func scan(
        _ chunk: UnsafeRawBufferPointer, from start: Int,
        _ body: (FramerEvent) throws -> FramerDecision
    ) rethrows -> FramerDecision {
        var lineStart = start
        while let lf = chunk.firstIndex(of: ASCII.lf, from: lineStart) {
            let decision = try deliver(chunk.slice(lineStart..<lf), body)
            lineStart = lf + 1
            if decision == .pause {
                keep(chunk.slice(lineStart..<chunk.count))
                return .pause
            }
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
        if line.count > maxLineBytes { return try body(.lineTooLong) }
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
            return try body(.lineTooLong)
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
        return try body(.lineTooLong)
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
}
