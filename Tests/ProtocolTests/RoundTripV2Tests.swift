// Version 2 commands through encoder, framer (with BPUB payloads) and parser, as a server reads them.
import Testing
import Protocol

/// What a server reads from a client: commands, and refusals (in order).
enum ServerItem: Equatable {
    case command(Command)
    case refused(ProtocolError)
    case badFraming
}

/// A version 2 server's read loop: frames lines, parses them, reads each BPUB's payload
/// (or skips it when its topic is refused), and stops at a refusal that loses framing.
struct ServerReader {
    var framer = LineFramer(maxLineBytes: 512)
    var version: Int
    var items: [ServerItem] = []
    var pendingTopic: [UInt8]?
    var pendingRefusal: ProtocolError?
    var closed = false

    init(version: Int) { self.version = version }

    mutating func feed(_ chunk: some Collection<UInt8>) {
        if closed { return }
        var found: [ServerItem] = []
        var topic = pendingTopic
        var refusal = pendingRefusal
        var closing = false
        let version = self.version
        _ = Array(chunk).withUnsafeBytes { raw in
            framer.feed(raw) { event in
                if closing { return .pause }
                switch event {
                case let .line(line):
                    do throws(ProtocolError) {
                        let view = try CommandParser.parse(line, version: version)
                        if case let .binaryPublish(name, size, topicRefusal) = view {
                            if let topicRefusal {
                                refusal = topicRefusal.error
                                return .skipPayload(size)
                            }
                            topic = Array(name)
                            return .readPayload(Int(clamping: size))
                        }
                        found.append(.command(Command(view)))
                    } catch {
                        found.append(.refused(error))
                        if error.losesFraming {
                            closing = true
                            return .pause
                        }
                    }
                case let .payload(payload):
                    found.append(.command(.binaryPublish(topic: topic ?? [], payload: Array(payload))))
                    topic = nil
                case .payloadSkipped:
                    if let refusal { found.append(.refused(refusal)) }
                    refusal = nil
                case .lineTooLong:
                    found.append(.refused(ProtocolError(.lineTooLong, "line too long")))
                case .badFraming:
                    found.append(.badFraming)
                    closing = true
                }
                return .proceed
            }
        }
        pendingTopic = topic
        pendingRefusal = refusal
        closed = closing
        items += found
    }
}

@Suite struct RoundTripV2Tests {
    func randomTopic(_ rng: inout SeededGenerator) -> [UInt8] {
        bytes(["a", "b.c", "orders.eu", "x.y.z"].randomElement(using: &rng) ?? "a") + bytes("\(Int.random(in: 0..<99, using: &rng))")
    }

    func randomCommand(_ rng: inout SeededGenerator, epochs: inout EpochSource) -> Command {
        let group: [UInt8]? = Bool.random(using: &rng) ? bytes("g\(Int.random(in: 0..<9, using: &rng))") : nil
        switch Int.random(in: 0..<10, using: &rng) {
        case 0, 1, 2:
            let payload = (0..<Int.random(in: 0...600, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            return .binaryPublish(topic: randomTopic(&rng), payload: payload)
        case 3:
            return .publish(topic: randomTopic(&rng), payload: bytes("p \(Int.random(in: 0...999, using: &rng))"))
        case 4:
            return .subscribe(pattern: randomTopic(&rng), options: SubscribeOptions(from: StreamPosition(epoch: epochs.next(), seq: rng.next()), group: group))
        case 5:
            return .subscribe(pattern: randomTopic(&rng), options: SubscribeOptions(last: UInt64.random(in: 1...UInt64.max, using: &rng), group: group))
        case 6:
            return .subscribe(pattern: randomTopic(&rng) + bytes(".*"), options: SubscribeOptions(group: group))
        case 7:
            return .unsubscribe(pattern: randomTopic(&rng) + bytes(".>"), group: group)
        case 8:
            return .hello(version: Int.random(in: 1...2, using: &rng))
        default:
            return .ping(token: Bool.random(using: &rng) ? nil : bytes("tok"))
        }
    }

    @Test func thousandsOfVersionTwoCommandsSurviveEncodeFrameAndParseInRandomChunks() {
        var rng = SeededGenerator(seed: 0xB9B)
        var epochs = EpochSource(seed: 5)
        let commands = (0..<4000).map { _ in randomCommand(&rng, epochs: &epochs) }
        var stream: [UInt8] = []
        for command in commands {
            command.encode(into: &stream)
            // Now and then a CRLF ending: of the line, or of a BPUB's payload.
            if Int.random(in: 0..<4, using: &rng) == 0 { stream.insert(0x0D, at: stream.count - 1) }
        }
        var reader = ServerReader(version: 2)
        var offset = 0
        while offset < stream.count {
            let size = min(Int.random(in: 1...400, using: &rng), stream.count - offset)
            reader.feed(stream[offset..<(offset + size)])
            offset += size
        }
        #expect(reader.items == commands.map { .command($0) })
        #expect(!reader.framer.hasPartialLine)
    }

    @Test func aRefusedBinaryPublishTakesItsPayloadOffTheWireFirst() {
        let stream = bytes("BPUB $x 3\nPUB\nBPUB a..b 4\r\n\n\n\n\n\r\nBPUB t 2\r\nhi\r\nPING\n")
        let expected: [ServerItem] = [
            .refused(ProtocolError(.reservedTopic, "topics starting with '$' belong to the broker")),
            .refused(ProtocolError(.badTopic, "topic has an empty level")),
            .command(.binaryPublish(topic: bytes("t"), payload: bytes("hi"))),
            .command(.ping(token: nil)),
        ]
        for version in [1, 2] {
            for split in 0...stream.count {
                var reader = ServerReader(version: version)
                reader.feed(stream[0..<split])
                reader.feed(stream[split...])
                #expect(reader.items == expected, "version \(version), split at \(split)")
            }
        }
    }

    @Test func anUnreadableSizeEndsTheStream() {
        let stream = bytes("PING 1\nBPUB t x\nPING 2\nBPUB t 1\nz\n")
        var reader = ServerReader(version: 1)
        reader.feed(stream)
        #expect(reader.items == [.command(.ping(token: bytes("1"))),
                                 .refused(ProtocolError(.badArguments, "a BPUB size is 1 to 20 decimal digits", losesFraming: true))])
        #expect(reader.closed)
    }

    @Test func aPayloadWithoutItsLineEndingIsBadFramingAndNotPublished() {
        let stream = bytes("BPUB t 3\nabcPING\nPING\n")
        for split in 0...stream.count {
            var reader = ServerReader(version: 2)
            reader.feed(stream[0..<split])
            reader.feed(stream[split...])
            #expect(reader.items == [.badFraming], "split at \(split)")
        }
    }

    @Test func knownVersionTwoVerbsWithGarbageArgumentsNeverTrap() {
        var rng = SeededGenerator(seed: 0x6A2B)
        let verbs = ["HELLO ", "BPUB ", "SUB a ", "SUB a.b from=", "SUB a last=", "SUB a group=", "UNSUB a ", "UNSUB a group=", "bpub t "]
        for _ in 0..<20_000 {
            var line = bytes(verbs.randomElement(using: &rng) ?? "SUB ")
            let alphabet = bytes(" =:.*>$0129azAZ_-")
            for _ in 0..<Int.random(in: 0...60, using: &rng) {
                let byte = Bool.random(using: &rng) ? alphabet.randomElement(using: &rng) ?? 0x20 : UInt8.random(in: 0...255, using: &rng)
                if byte != 0x0A { line.append(byte) }
            }
            for version in [1, 2] {
                switch Result(catching: { () throws(ProtocolError) in try CommandParser.parse(line, version: version) }) {
                case .success: break
                case let .failure(error):
                    #expect(!error.text.isEmpty)
                    #expect(!error.losesFraming || error.code == .badArguments)
                }
            }
        }
    }
}
