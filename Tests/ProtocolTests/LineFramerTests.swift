// The framing rules of PROTOCOL.md, "Transport and framing".
import Testing
import Protocol

@Suite struct LineFramerTests {
    @Test func aLineEndsAtLF() {
        #expect(frame("PING\nPING a\n") == [.line("PING"), .line("PING a")])
    }

    @Test func aCRRightBeforeLFIsDropped() {
        #expect(frame("PING\r\nPUB t x\r\n") == [.line("PING"), .line("PUB t x")])
    }

    @Test func aCRElsewhereIsKept() {
        #expect(frame("PUB t a\rb\n") == [.line("PUB t a\rb")])
        #expect(frame("PUB t a\r\r\n") == [.line("PUB t a\r")])
    }

    @Test func emptyLinesAreSkipped() {
        #expect(frame("\n\r\n\nPING\n\n") == [.line("PING")])
    }

    @Test func anIncompleteLineWaitsForItsLF() {
        #expect(frame("PING\nPIN") == [.line("PING")])
        #expect(frame("PING\nPIN", chunkSizes: [1]) == [.line("PING")])
    }

    @Test func aLineOfExactlyTheMaximumIsValidWithLFOrCRLF() {
        let line = String(repeating: "x", count: 16)
        for sizes in [[Int.max], [1], [16], [17], [15]] {
            #expect(frame(line + "\n", max: 16, chunkSizes: sizes) == [.line(line)])
            #expect(frame(line + "\r\n", max: 16, chunkSizes: sizes) == [.line(line)])
        }
    }

    @Test func aLineOneByteOverTheMaximumIsTooLong() {
        let line = String(repeating: "x", count: 17)
        for sizes in [[Int.max], [1], [16], [17], [18], [5]] {
            #expect(frame(line + "\nPING\n", max: 16, chunkSizes: sizes) == [.tooLong, .line("PING")])
            #expect(frame(line + "\r\nPING\n", max: 16, chunkSizes: sizes) == [.tooLong, .line("PING")])
        }
    }

    @Test func anOverLongLineIsReportedBeforeItsLFArrives() {
        // The client may never send the LF: the report comes as soon as the maximum is passed.
        #expect(frame(String(repeating: "y", count: 17), max: 16) == [.tooLong])
        #expect(frame(String(repeating: "y", count: 1000), max: 16, chunkSizes: [3]) == [.tooLong])
    }

    @Test func aCRAtTheLimitWaitsToSeeWhetherLFFollows() {
        let body = String(repeating: "z", count: 16)
        #expect(frame(body + "\r", max: 16) == [])
        #expect(frame(body + "\rq", max: 16) == [.tooLong])
    }

    @Test func anOverLongLineIsReportedOnceAndDiscardedUpToItsLF() {
        let long = String(repeating: "a", count: 5000)
        let input = "PING 1\n" + long + "\nPING 2\n"
        for sizes in [[Int.max], [1], [7], [100], [4096]] {
            #expect(frame(input, max: 64, chunkSizes: sizes) == [.line("PING 1"), .tooLong, .line("PING 2")])
        }
    }

    @Test func twoOverLongLinesInARowAreTwoReports() {
        let long = String(repeating: "b", count: 100)
        #expect(frame(long + "\n" + long + "\nPING\n", max: 10, chunkSizes: [9]) == [.tooLong, .tooLong, .line("PING")])
    }

    @Test func memoryHeldForAPartialLineNeverExceedsTheMaximum() {
        var framer = LineFramer(maxLineBytes: 100)
        var reports = 0
        let chunk = [UInt8](repeating: 0x41, count: 37)
        for _ in 0..<1000 {
            _ = chunk.withUnsafeBytes { bytes in
                framer.feed(bytes) { event in
                    if case .lineTooLong = event { reports += 1 }
                    return .proceed
                }
            }
            #expect(framer.heldByteCount <= 101)
        }
        #expect(reports == 1)
    }

    @Test func aStreamSplitAtEveryPositionGivesTheSameLines() {
        let input = bytes("PUB a.b hello world\r\nSUB a.*\n\nPING tok\nUNSUB a.>\r\nQUIT\n" + String(repeating: "q", count: 40) + "\nPING\n")
        let expected = frame(input, max: 32)
        #expect(expected.count == 7)
        for split in 0...input.count {
            var framer = LineFramer(maxLineBytes: 32)
            var events: [OwnedEvent] = []
            for part in [input[0..<split], input[split...]] {
                _ = Array(part).withUnsafeBytes { chunk in
                    framer.feed(chunk) { event in
                        switch event {
                        case let .line(b): events.append(.line(String(decoding: b, as: UTF8.self)))
                        case .lineTooLong: events.append(.tooLong)
                        case .payload, .payloadSkipped, .badFraming: Issue.record("no payload was asked for")
                        }
                        return .proceed
                    }
                }
            }
            #expect(events == expected, "split at \(split)")
        }
    }

    @Test func aPauseKeepsTheRestUntilResume() {
        var framer = LineFramer(maxLineBytes: 64)
        var seen: [String] = []
        let decision = bytes("A\nB\nC\nD").withUnsafeBytes { chunk in
            framer.feed(chunk) { event in
                if case let .line(b) = event { seen.append(String(decoding: b, as: UTF8.self)) }
                return seen.count == 1 ? .pause : .proceed
            }
        }
        #expect(decision == .pause)
        #expect(seen == ["A"])
        #expect(framer.isPaused)
        framer.resume { event in
            if case let .line(b) = event { seen.append(String(decoding: b, as: UTF8.self)) }
            return .proceed
        }
        #expect(seen == ["A", "B", "C"])
        _ = bytes("\n").withUnsafeBytes { chunk in
            framer.feed(chunk) { event in
                if case let .line(b) = event { seen.append(String(decoding: b, as: UTF8.self)) }
                return .proceed
            }
        }
        #expect(seen == ["A", "B", "C", "D"])
    }
}
