// The framer's payload mode (BPUB on the server, a version 2 MSG on a client): any bytes, any chunking.
import Testing
import Protocol

/// Frames `input` in chunks of the given sizes (the last size repeats). A line `R <n>` answers
/// `readPayload(n)`, a line `S <n>` answers `skipPayload(n)`; with `pausing`, every other event
/// answers `.pause`, and the driver resumes at once (`resumeAtOnce`) or only by feeding the next
/// chunk (and once at the end).
struct ScriptedFramer {
    var framer: LineFramer
    var events: [OwnedEvent] = []
    var pausing = false
    var resumeAtOnce = true
    /// Results of every feed and resume call, for checks on the returned decisions.
    var decisions: [FramerDecision] = []

    init(max: Int = 64, pausing: Bool = false, resumeAtOnce: Bool = true) {
        framer = LineFramer(maxLineBytes: max)
        self.pausing = pausing
        self.resumeAtOnce = resumeAtOnce
    }

    static func decision(for event: FramerEvent, pausing: Bool) -> FramerDecision {
        if case let .line(bytes) = event, bytes.count > 2, bytes[1] == UInt8(ascii: " ") {
            let number = String(decoding: bytes[2...], as: UTF8.self)
            if bytes[0] == UInt8(ascii: "R"), let size = Int(number) { return .readPayload(size) }
            if bytes[0] == UInt8(ascii: "S"), let size = UInt64(number) { return .skipPayload(size) }
        }
        return pausing ? .pause : .proceed
    }

    mutating func feed(_ chunk: UnsafeRawBufferPointer) {
        let pausing = self.pausing
        var seen: [OwnedEvent] = []
        var decision = framer.feed(chunk) { event in
            seen.append(OwnedEvent(event))
            return ScriptedFramer.decision(for: event, pausing: pausing)
        }
        decisions.append(decision)
        while resumeAtOnce && decision == .pause {
            decision = framer.resume { event in
                seen.append(OwnedEvent(event))
                return ScriptedFramer.decision(for: event, pausing: pausing)
            }
            decisions.append(decision)
        }
        events += seen
    }

    mutating func feed(_ bytes: some Collection<UInt8>) {
        Array(bytes).withUnsafeBytes { feed($0) }
    }

    /// Resumes until the framer no longer pauses.
    mutating func drain() {
        let pausing = self.pausing
        var seen: [OwnedEvent] = []
        while framer.isPaused {
            decisions.append(framer.resume { event in
                seen.append(OwnedEvent(event))
                return ScriptedFramer.decision(for: event, pausing: pausing)
            })
        }
        events += seen
    }

    /// Feeds all of `input` in chunks of `sizes` (the last repeats), then drains.
    mutating func run(_ input: [UInt8], chunkSizes sizes: [Int]) {
        var offset = 0
        var index = 0
        while offset < input.count {
            let size = max(1, min(sizes[min(index, sizes.count - 1)], input.count - offset))
            index += 1
            feed(input[offset..<(offset + size)])
            offset += size
        }
        drain()
    }
}

/// The events of `input` framed with the script, in chunks of `sizes`.
func scripted(_ input: [UInt8], max: Int = 64, chunkSizes: [Int] = [Int.max], pausing: Bool = false, resumeAtOnce: Bool = true) -> [OwnedEvent] {
    var driver = ScriptedFramer(max: max, pausing: pausing, resumeAtOnce: resumeAtOnce)
    driver.run(input, chunkSizes: chunkSizes)
    return driver.events
}

/// The events of `input` split into two chunks at `split`.
func scripted(_ input: [UInt8], splitAt split: Int, max: Int = 64, pausing: Bool = false, resumeAtOnce: Bool = true) -> [OwnedEvent] {
    var driver = ScriptedFramer(max: max, pausing: pausing, resumeAtOnce: resumeAtOnce)
    driver.feed(input[0..<split])
    driver.feed(input[split...])
    driver.drain()
    return driver.events
}

/// Every byte value once, LF and CR included.
let everyByte = (0...255).map { UInt8($0) }

@Suite struct LineFramerPayloadTests {
    @Test func aPayloadIsExactlyItsSizeInBytesOfAnyValue() {
        for ending in ["\n", "\r\n"] {
            let input = bytes("PING 1\nR 256\n") + everyByte + bytes(ending) + bytes("PING 2\n")
            #expect(scripted(input) == [.line("PING 1"), .line("R 256"), .payload(everyByte), .line("PING 2")])
        }
    }

    @Test func aPayloadMayEndWithCRAndContainLFsAndCRLFs() {
        let payload = bytes("a\nb\r\nc\r")
        for ending in ["\n", "\r\n"] {
            let input = bytes("R \(payload.count)\n") + payload + bytes(ending) + bytes("X\n")
            #expect(scripted(input) == [.line("R 7"), .payload(payload), .line("X")])
        }
    }

    @Test func aPayloadSplitAtEveryPositionGivesTheSameEvents() {
        for ending in ["\n", "\r\n"] {
            let input = bytes("PING 1\r\nR 256\n") + everyByte + bytes(ending) + bytes("R 3\r\nxyz\r\nS 5\nabcde\nPING 2\n")
            let expected: [OwnedEvent] = [.line("PING 1"), .line("R 256"), .payload(everyByte), .line("R 3"), .payload(bytes("xyz")),
                                          .line("S 5"), .skipped, .line("PING 2")]
            #expect(scripted(input) == expected)
            for split in 0...input.count {
                #expect(scripted(input, splitAt: split) == expected, "split at \(split), ending \(ending.debugDescription)")
            }
            #expect(scripted(input, chunkSizes: [1]) == expected)
        }
    }

    @Test func aPayloadSplitAtEveryPairOfPositionsGivesTheSameEvents() {
        let input = bytes("R 4\n") + [0x0A, 0x0D, 0x00, 0xFF] + bytes("\r\nS 3\n\r\n\n\r\nR 0\r\n\r\nQ\n")
        let expected: [OwnedEvent] = [.line("R 4"), .payload([0x0A, 0x0D, 0x00, 0xFF]), .line("S 3"), .skipped,
                                      .line("R 0"), .payload([]), .line("Q")]
        for first in 0...input.count {
            for second in first...input.count {
                var driver = ScriptedFramer()
                driver.feed(input[0..<first])
                driver.feed(input[first..<second])
                driver.feed(input[second...])
                #expect(driver.events == expected, "splits at \(first) and \(second)")
            }
        }
    }

    @Test func anEmptyPayloadIsJustItsEnding() {
        #expect(scripted(bytes("R 0\n\nPING\n")) == [.line("R 0"), .payload([]), .line("PING")])
        #expect(scripted(bytes("R 0\r\n\r\nPING\n")) == [.line("R 0"), .payload([]), .line("PING")])
        #expect(scripted(bytes("S 0\r\n\r\nPING\n"), chunkSizes: [1]) == [.line("S 0"), .skipped, .line("PING")])
        // The ending of an empty payload is not an empty line: it is taken, not skipped.
        #expect(scripted(bytes("R 0\nX\n")) == [.line("R 0"), .badFraming])
    }

    @Test func aNegativeReadSizeCountsAsZero() {
        #expect(scripted(bytes("R -5\n\nPING\n")) == [.line("R -5"), .payload([]), .line("PING")])
    }

    @Test func aCRLFEndingSplitBetweenCRAndLFIsOneEnding() {
        let input = bytes("R 3\nabc\r\nPING\n")
        let cr = input.firstIndex(of: 0x0D) ?? 0
        #expect(scripted(input, splitAt: cr + 1) == [.line("R 3"), .payload(bytes("abc")), .line("PING")])
        // CR alone in its own chunk.
        var driver = ScriptedFramer()
        driver.feed(input[0..<cr])
        driver.feed(input[cr..<(cr + 1)])
        #expect(driver.events == [.line("R 3")])
        #expect(driver.framer.isInPayload)
        driver.feed(input[(cr + 1)...])
        #expect(driver.events == [.line("R 3"), .payload(bytes("abc")), .line("PING")])
        #expect(!driver.framer.isInPayload)
    }

    @Test func aPayloadIsReportedOnlyOnceItsEndingHasArrived() {
        var driver = ScriptedFramer()
        driver.feed(bytes("R 3\nabc"))
        #expect(driver.events == [.line("R 3")])
        driver.feed(bytes("\r"))
        #expect(driver.events == [.line("R 3")])
        #expect(driver.framer.hasPartialLine)
        driver.feed(bytes("\n"))
        #expect(driver.events == [.line("R 3"), .payload(bytes("abc"))])
        #expect(!driver.framer.hasPartialLine)
        #expect(driver.framer.heldByteCount == 0)
    }

    @Test func aPayloadWholeInOneChunkIsLentFromThatChunk() {
        let input = bytes("R 5\nhello\nR 5\nworld\n")
        var framer = LineFramer(maxLineBytes: 64)
        var lent: [Bool] = []
        input.withUnsafeBytes { chunk in
            let range = UInt(bitPattern: chunk.baseAddress)..<(UInt(bitPattern: chunk.baseAddress) + UInt(chunk.count))
            framer.feed(UnsafeRawBufferPointer(rebasing: chunk[0..<16])) { event in
                if case let .payload(payload) = event { lent.append(range.contains(UInt(bitPattern: payload.baseAddress))) }
                return ScriptedFramer.decision(for: event, pausing: false)
            }
            framer.feed(UnsafeRawBufferPointer(rebasing: chunk[16...])) { event in
                if case let .payload(payload) = event { lent.append(range.contains(UInt(bitPattern: payload.baseAddress))) }
                return ScriptedFramer.decision(for: event, pausing: false)
            }
        }
        // The first lies whole in the first chunk; the second is split ("wor" | "ld\n").
        #expect(lent == [true, false])
    }

    @Test func aPayloadIgnoresMaxLineBytes() {
        let payload = [UInt8](repeating: 0x61, count: 1000)
        let input = bytes("R 1000\n") + payload + bytes("\nS 1000\n") + payload + bytes("\nPING\n")
        for sizes in [[Int.max], [1], [7], [999], [1001]] {
            #expect(scripted(input, max: 8, chunkSizes: sizes) == [.line("R 1000"), .payload(payload), .line("S 1000"), .skipped, .line("PING")])
        }
    }

    @Test func aMebibytePayloadArrivesWholeInAnyChunking() {
        var rng = SeededGenerator(seed: 0xB10B)
        let payload = (0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let input = bytes("R \(1 << 20)\n") + payload + bytes("\r\nPING\n")
        let expected: [OwnedEvent] = [.line("R \(1 << 20)"), .payload(payload), .line("PING")]
        for sizes in [[Int.max], [65_536], [4096, 1], [1 << 20], [(1 << 20) + 9], [(1 << 20) + 10], [100_003]] {
            #expect(scripted(input, chunkSizes: sizes) == expected, "\(sizes)")
        }
        var driver = ScriptedFramer()
        var offset = 0
        while offset < input.count {
            let size = min(Int.random(in: 1...70_000, using: &rng), input.count - offset)
            driver.feed(input[offset..<(offset + size)])
            #expect(driver.framer.heldByteCount <= 1 << 20)
            offset += size
        }
        #expect(driver.events == expected)
    }

    @Test func aSkippedPayloadIsNeverHeld() {
        let size = 5 << 20
        let chunk = [UInt8](repeating: 0x0A, count: 65_536)  // all LFs: none of them may end a line
        var driver = ScriptedFramer()
        driver.feed(bytes("S \(size)\n"))
        var sent = 0
        while sent < size {
            let count = min(chunk.count, size - sent)
            driver.feed(chunk[0..<count])
            sent += count
            #expect(driver.framer.heldByteCount == 0)
            #expect(driver.framer.isInPayload)
        }
        #expect(driver.events == [.line("S \(size)")])
        driver.feed(bytes("\r\nPING\n"))
        #expect(driver.events == [.line("S \(size)"), .skipped, .line("PING")])
        #expect(driver.framer.heldByteCount == 0)
    }

    @Test func aSkipOfTheLargestSizeNeverEndsAndHoldsNothing() {
        var driver = ScriptedFramer()
        driver.feed(bytes("S \(UInt64.max)\nPING\n") + [UInt8](repeating: 0x0A, count: 10_000))
        #expect(driver.events == [.line("S \(UInt64.max)")])
        #expect(driver.framer.heldByteCount == 0)
        #expect(driver.framer.isInPayload)
    }

    @Test func aBadEndingIsBadFramingOnceAndThenNothing() {
        let cases = [
            bytes("R 3\nabcX\nPING\n"),            // no LF
            bytes("R 3\nabc\rX\nPING\n"),          // CR without LF
            bytes("R 3\nabc\r\r\nPING\n"),         // two CRs
            bytes("R 3\nabcd\nPING\n"),            // one byte too many
            bytes("S 3\nabc \nPING\n"),            // after a skip too
            bytes("S 3\nabc\r\rPING\n"),
            bytes("R 0\nPING\n"),
        ]
        for input in cases {
            let name = String(decoding: input, as: UTF8.self).debugDescription
            let expectedFirst: OwnedEvent = input[0] == UInt8(ascii: "R") ? .line(input[2] == UInt8(ascii: "3") ? "R 3" : "R 0") : .line("S 3")
            #expect(scripted(input) == [expectedFirst, .badFraming], "\(name)")
            for split in 0...input.count {
                #expect(scripted(input, splitAt: split) == [expectedFirst, .badFraming], "\(name) split at \(split)")
            }
            #expect(scripted(input, chunkSizes: [1]) == [expectedFirst, .badFraming], "\(name)")
            #expect(scripted(input, chunkSizes: [1], pausing: true) == [expectedFirst, .badFraming], "\(name)")
        }
    }

    @Test func aBrokenFramerHoldsNothingAndDeliversNothing() {
        var driver = ScriptedFramer()
        driver.feed(bytes("R 3\nab"))
        #expect(driver.framer.heldByteCount == 2)
        driver.feed(bytes("cZPING\nPING\n"))
        #expect(driver.events == [.line("R 3"), .badFraming])
        #expect(driver.framer.isBroken)
        #expect(driver.framer.heldByteCount == 0)
        #expect(!driver.framer.hasPartialLine && !driver.framer.isPaused)
        driver.feed(bytes("PING\nR 1\nx\n"))
        #expect(driver.events == [.line("R 3"), .badFraming])
        #expect(driver.decisions.last == .proceed)
        driver.framer.reset()
        #expect(!driver.framer.isBroken)
        driver.feed(bytes("PING\n"))
        #expect(driver.events == [.line("R 3"), .badFraming, .line("PING")])
    }

    @Test func aReadPayloadDecisionIsNotAPause() {
        var framer = LineFramer(maxLineBytes: 64)
        var events: [OwnedEvent] = []
        let decision = bytes("R 2\nhi\nPING\n").withUnsafeBytes { chunk in
            framer.feed(chunk) { event in
                events.append(OwnedEvent(event))
                return ScriptedFramer.decision(for: event, pausing: false)
            }
        }
        #expect(decision == .proceed)
        #expect(!framer.isPaused)
        #expect(events == [.line("R 2"), .payload(bytes("hi")), .line("PING")])
    }

    @Test func thePayloadsCallbackMayPauseAndResumeGoesOn() {
        var framer = LineFramer(maxLineBytes: 64)
        var events: [OwnedEvent] = []
        let record: (FramerEvent) -> FramerDecision = { event in
            events.append(OwnedEvent(event))
            switch event {
            case .payload, .payloadSkipped: return .pause
            default: return ScriptedFramer.decision(for: event, pausing: false)
            }
        }
        let first = bytes("R 2\nhi\r\nS 1\nx\nPING\nR 1\n").withUnsafeBytes { framer.feed($0, record) }
        #expect(first == .pause)
        #expect(framer.isPaused)
        #expect(events == [.line("R 2"), .payload(bytes("hi"))])
        #expect(framer.resume(record) == .pause)
        #expect(events == [.line("R 2"), .payload(bytes("hi")), .line("S 1"), .skipped])
        #expect(framer.resume(record) == .proceed)
        #expect(events == [.line("R 2"), .payload(bytes("hi")), .line("S 1"), .skipped, .line("PING"), .line("R 1")])
        #expect(framer.isInPayload)
        #expect(bytes("z\n").withUnsafeBytes { framer.feed($0, record) } == .pause)
        #expect(events.last == .payload(bytes("z")))
    }

    @Test func pausingAfterEveryEventGivesTheSameEventsAtEverySplit() {
        let input = bytes("PING 1\nR 256\n") + everyByte + bytes("\r\nS 4\n\n\n\n\n\nR 2\r\n\r\n\r\nPING 2\r\n")
        let expected: [OwnedEvent] = [.line("PING 1"), .line("R 256"), .payload(everyByte), .line("S 4"), .skipped,
                                      .line("R 2"), .payload(bytes("\r\n")), .line("PING 2")]
        #expect(scripted(input) == expected)
        for split in 0...input.count {
            #expect(scripted(input, splitAt: split, pausing: true) == expected, "resumed at once, split at \(split)")
            #expect(scripted(input, splitAt: split, pausing: true, resumeAtOnce: false) == expected, "resumed by feeding, split at \(split)")
        }
        #expect(scripted(input, chunkSizes: [1], pausing: true, resumeAtOnce: false) == expected)
        #expect(scripted(input, chunkSizes: [3], pausing: true) == expected)
    }

    @Test func aPayloadDecisionAfterLineTooLongIsIgnored() {
        var framer = LineFramer(maxLineBytes: 4)
        var events: [OwnedEvent] = []
        _ = bytes("TOOLONG\nPING\n").withUnsafeBytes { chunk in
            framer.feed(chunk) { event in
                events.append(OwnedEvent(event))
                return .readPayload(3)
            }
        }
        // "PING" is a line (its own readPayload(3) then waits for three bytes).
        #expect(events == [.tooLong, .line("PING")])
        // Over-long before its LF arrives, and across chunks: also ignored.
        var other = LineFramer(maxLineBytes: 4)
        var seen: [OwnedEvent] = []
        for part in ["TOOLO", "NG\nab", "c\nPING\n"] {
            _ = bytes(part).withUnsafeBytes { chunk in
                other.feed(chunk) { event in
                    seen.append(OwnedEvent(event))
                    if case .line = event { return .proceed }
                    return .skipPayload(2)
                }
            }
        }
        #expect(seen == [.tooLong, .line("abc"), .line("PING")])
    }

    @Test func aPayloadDecisionAfterAPayloadIsIgnored() {
        var framer = LineFramer(maxLineBytes: 64)
        var events: [OwnedEvent] = []
        _ = bytes("R 1\nx\nAB\n").withUnsafeBytes { chunk in
            framer.feed(chunk) { event in
                events.append(OwnedEvent(event))
                if case .payload = event { return .readPayload(2) }
                return ScriptedFramer.decision(for: event, pausing: false)
            }
        }
        #expect(events == [.line("R 1"), .payload(bytes("x")), .line("AB")])
    }

    @Test func aLineHeldAcrossChunksMayStartAPayload() {
        // The line "R 3" completes in the second chunk, which also holds part of the payload.
        let expected: [OwnedEvent] = [.line("R 3"), .payload(bytes("a\nb")), .line("Z")]
        var driver = ScriptedFramer()
        driver.feed(bytes("R "))
        driver.feed(bytes("3\na"))
        driver.feed(bytes("\nb\nZ\n"))
        #expect(driver.events == expected)
    }

    @Test func randomStreamsOfLinesAndPayloadsSurviveRandomChunking() {
        var rng = SeededGenerator(seed: 0xFEED)
        for round in 0..<200 {
            var input: [UInt8] = []
            var expected: [OwnedEvent] = []
            for index in 0..<Int.random(in: 1...12, using: &rng) {
                let payload = (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                let ending = Bool.random(using: &rng) ? "\r\n" : "\n"
                switch Int.random(in: 0..<3, using: &rng) {
                case 0:
                    input += bytes("R \(payload.count)\(ending)") + payload + bytes(ending)
                    expected += [.line("R \(payload.count)"), .payload(payload)]
                case 1:
                    input += bytes("S \(payload.count)\(ending)") + payload + bytes(ending)
                    expected += [.line("S \(payload.count)"), .skipped]
                default:
                    input += bytes("L\(index)\(ending)")
                    expected.append(.line("L\(index)"))
                }
            }
            let pausing = Bool.random(using: &rng)
            var driver = ScriptedFramer(pausing: pausing, resumeAtOnce: Bool.random(using: &rng))
            var offset = 0
            while offset < input.count {
                let size = min(Int.random(in: 1...64, using: &rng), input.count - offset)
                driver.feed(input[offset..<(offset + size)])
                offset += size
            }
            driver.drain()
            #expect(driver.events == expected, "round \(round)")
        }
    }
}
