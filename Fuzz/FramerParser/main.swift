// libFuzzer target: LineFramer in one, two and paused chunks, then CommandParser and ServerFrameParser on every line.
//
// Built with the sources of Sources/Protocol in one module (see scripts/fuzz.sh), so
// internal names are visible. Every check traps on failure so libFuzzer reports it.
//
// Input layout: byte 0 picks the small maximum (1...64), bytes 1-2 the split
// position; the rest is the byte stream fed to the framer.

#if canImport(Glibc)
import Glibc
#endif

/// A framer event that owns its bytes, for comparing runs.
enum OwnedEvent: Equatable {
    case line([UInt8])
    case tooLong
}

/// Stops the process with a message libFuzzer shows next to the crashing input.
func fail(_ message: String) -> Never {
    var line = "fuzz invariant violated: \(message)\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    abort()
}

func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

/// The framing rules of PROTOCOL.md applied to the whole input at once: complete
/// lines lose one CR before their LF, empty ones are skipped, longer than `max`
/// is `tooLong`; a trailing partial line is `tooLong` once it is certain to pass
/// the maximum (more than max + 1 bytes, or max + 1 bytes not ending in CR).
func referenceEvents(_ input: [UInt8], max: Int) -> [OwnedEvent] {
    var events: [OwnedEvent] = []
    var start = 0
    while start < input.count {
        guard let lf = input[start...].firstIndex(of: ASCII.lf) else {
            let count = input.count - start
            if count > max + 1 || (count == max + 1 && input[input.count - 1] != ASCII.cr) {
                events.append(.tooLong)
            }
            break
        }
        var end = lf
        if end > start && input[end - 1] == ASCII.cr { end -= 1 }
        if end - start > max {
            events.append(.tooLong)
        } else if end > start {
            events.append(.line(Array(input[start..<end])))
        }
        start = lf + 1
    }
    return events
}

/// Events written flat into one buffer (a 4-byte length, then the line; `tooLong` is
/// length 0xFFFFFFFF), so a run allocates one array instead of one per line.
struct EventLog: Equatable {
    var bytes: [UInt8] = []

    mutating func appendLine(_ line: UnsafeRawBufferPointer) {
        appendLength(UInt32(line.count))
        bytes.append(contentsOf: line)
    }

    mutating func appendTooLong() { appendLength(.max) }

    private mutating func appendLength(_ length: UInt32) {
        withUnsafeBytes(of: length.littleEndian) { bytes.append(contentsOf: $0) }
    }

    init() {}

    init(_ events: [OwnedEvent]) {
        for event in events {
            switch event {
            case let .line(line): line.withUnsafeBytes { appendLine($0) }
            case .tooLong: appendTooLong()
            }
        }
    }
}

/// Feeds `chunks` to a new framer; with `pausing`, pauses after every event and resumes by hand.
func frame(_ chunks: [ArraySlice<UInt8>], max: Int, pausing: Bool) -> EventLog {
    var framer = LineFramer(maxLineBytes: max)
    var log = EventLog()
    let body = { (event: FramerEvent) -> FramerDecision in
        switch event {
        case let .line(bytes):
            check(!bytes.isEmpty, "empty line delivered")
            check(!bytes.contains(ASCII.lf), "line contains LF")
            check(bytes.count <= max, "line of \(bytes.count) bytes passes max \(max)")
            log.appendLine(bytes)
        case .lineTooLong:
            log.appendTooLong()
        case .payload, .payloadSkipped, .badFraming:
            fail("a payload event though no payload was asked for")
        }
        return pausing ? .pause : .proceed
    }
    for chunk in chunks {
        var decision = chunk.withUnsafeBytes { framer.feed($0, body) }
        while decision == .pause && framer.isPaused {
            decision = framer.resume(body)
        }
        check(!framer.isPaused, "framer still paused after resuming")
        check(framer.heldByteCount <= max + 1,
              "framer holds \(framer.heldByteCount) bytes with max \(max)")
    }
    return log
}

/// Client-side errors carry one line of non-empty text with one of the spec's codes.
func checkProtocolError(_ error: ProtocolError) {
    let codes: Set<ErrorCode> = [.unknownCommand, .badArguments, .badTopic, .reservedTopic, .unsupportedVersion]
    check(codes.contains(error.code), "unexpected error code \(error.code)")
    check(!error.text.isEmpty, "empty error text for \(error.code)")
    check(!error.text.utf8.contains(ASCII.lf) && !error.text.utf8.contains(ASCII.cr),
          "error text with CR or LF: \(error.text.debugDescription)")
}

/// One command line: parse, check what the parse promises, re-encode, parse again.
func checkCommand(_ line: [UInt8], max: Int) {
    let command: Command
    do {
        command = try CommandParser.parse(line)
    } catch {
        checkProtocolError(error)
        return
    }
    switch command {
    case let .publish(topic, payload):
        topic.withUnsafeBytes { topic in
            check(Names.validateTopic(topic) == nil, "PUB accepted an invalid topic")
            check(!Names.isReserved(topic), "PUB accepted a reserved topic")
            check(Names.validatePattern(topic) == nil, "a valid topic is not a valid pattern")
            check(Names.matches(pattern: topic, topic: topic), "a topic does not match itself")
        }
        check(payload.last != ASCII.cr, "PUB accepted a payload ending with CR")
        check(!payload.contains(ASCII.lf), "payload contains LF")
    case let .subscribe(pattern, options):
        pattern.withUnsafeBytes { check(Names.validatePattern($0) == nil, "SUB accepted an invalid pattern") }
        check(options == .none, "a version 1 SUB accepted options")
    case let .unsubscribe(pattern, group):
        pattern.withUnsafeBytes { check(Names.validatePattern($0) == nil, "UNSUB accepted an invalid pattern") }
        check(group == nil, "a version 1 UNSUB accepted a group")
    case let .hello(version):
        check(version == 1 || version == 2, "HELLO accepted version \(version)")
    case let .binaryPublish(topic, payload):
        // The line alone is parsed here (its payload follows it on the wire), so the owned
        // form has an empty payload and does not round-trip through one line.
        topic.withUnsafeBytes { topic in
            check(Names.validateTopic(topic) == nil, "BPUB accepted an invalid topic")
            check(!Names.isReserved(topic), "BPUB accepted a reserved topic")
        }
        check(payload.isEmpty, "a BPUB line parsed alone has a payload")
        return
    case let .ping(token):
        if let token {
            check(!token.isEmpty && !token.contains(ASCII.space), "PING token empty or with a space")
            check(token.last != ASCII.cr, "PING accepted a token ending with CR")
        }
    case let .stats(topic):
        topic?.withUnsafeBytes { check(Names.validateTopic($0) == nil, "STATS accepted an invalid topic") }
    case let .auth(user, token):
        check(!token.isEmpty && !token.contains(ASCII.space), "AUTH token empty or with a space")
        if let user { check(!user.isEmpty && !user.contains(ASCII.space), "AUTH user empty or with a space") }
    case .quit:
        break
    }

    var encoded: [UInt8] = []
    command.encode(into: &encoded)
    check(encoded.last == ASCII.lf, "encoded command does not end with LF")
    check(encoded.firstIndex(of: ASCII.lf) == encoded.count - 1, "encoded command has more than one LF")
    // Parsed straight from the bytes...
    do {
        let again = try CommandParser.parse(Array(encoded.dropLast()))
        check(again == command, "re-encoded command parses differently")
    } catch {
        fail("re-encoded command is refused: \(error)")
    }
    // ...and through a framer: the encoding is exactly one line of the same command.
    // (A PING or AUTH token ending in CR would lose that CR to the framing; the parser
    // refuses such PING tokens, and an AUTH token with a CR can never match a configured one.)
    if case let .auth(_, token) = command, token.last == ASCII.cr { return }
    var framed: [OwnedEvent] = []
    var framer = LineFramer(maxLineBytes: max)
    _ = encoded.withUnsafeBytes { bytes in
        framer.feed(bytes) { event in
            switch event {
            case let .line(bytes): framed.append(.line(Array(bytes)))
            case .lineTooLong: framed.append(.tooLong)
            case .payload, .payloadSkipped, .badFraming: fail("a payload event though no payload was asked for")
            }
            return .proceed
        }
    }
    check(!framer.hasPartialLine, "encoded command leaves a partial line")
    guard framed.count == 1, case let .line(framedLine) = framed[0] else {
        fail("encoded command is not one line: \(framed)")
    }
    do {
        check(try CommandParser.parse(framedLine) == command, "framed re-encoded command parses differently")
    } catch {
        fail("framed re-encoded command is refused: \(error)")
    }
}

/// An `OK` with an empty rest is written as plain `OK`; everything else round-trips as it is.
func normalized(_ frame: ServerFrame) -> ServerFrame {
    if case let .ok(rest) = frame, rest?.isEmpty ?? false { return .ok(rest: nil) }
    if case let .pong(token) = frame, token?.isEmpty ?? false { return .pong(token: nil) }
    return frame
}

/// One broker line: parse, re-encode, parse again.
func checkServerFrame(_ line: [UInt8]) {
    let frame: ServerFrame
    do {
        frame = try ServerFrameParser.parse(line)
    } catch {
        check(!error.reason.isEmpty, "empty frame error reason")
        check(!error.reason.utf8.contains(ASCII.lf) && !error.reason.utf8.contains(ASCII.cr), "frame error reason with CR or LF")
        check(!error.line.utf8.contains(ASCII.lf), "frame error line with LF")
        check(error.line.unicodeScalars.count <= 80, "frame error line longer than 80")
        return
    }
    var encoded: [UInt8] = []
    frame.encode(into: &encoded)
    check(encoded.last == ASCII.lf, "encoded frame does not end with LF")
    do {
        let again = try ServerFrameParser.parse(Array(encoded.dropLast()))
        check(again == normalized(frame), "re-encoded frame parses differently: \(frame) vs \(again)")
    } catch {
        fail("re-encoded frame is refused: \(error)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard count >= 3 else { return 0 }
    let all = UnsafeRawBufferPointer(start: start, count: count)
    let smallMax = Int(all[0] % 64) + 1
    let data = Array(all[3...])
    let split = (Int(all[1]) << 8 | Int(all[2])) % (data.count + 1)

    for max in [smallMax, 65_536] {
        let expected = referenceEvents(data, max: max)
        let whole = frame([data[...]], max: max, pausing: false)
        check(whole == EventLog(expected), "one chunk differs from the framing rules (max \(max))")
        let halves = [data[..<split], data[split...]]
        check(frame(halves, max: max, pausing: false) == whole, "two chunks differ from one (max \(max), split \(split))")
        check(frame(halves, max: max, pausing: true) == whole, "pausing changes the events (max \(max), split \(split))")
        // Every line the small maximum delivers is also delivered under 65536: parse those once.
        guard max == 65_536 else { continue }
        for event in expected {
            guard case let .line(line) = event else { continue }
            checkCommand(line, max: max)
            checkServerFrame(line)
        }
    }
    return 0
}
