// Frames the broker writes in version 2, as a client reads them: MSG headers, OK replies, payloads through the framer.
import Testing
import Protocol

/// What a version 2 client reads: frames, and messages with their payloads.
enum ClientItem: Equatable {
    case frame(ServerFrame)
    case message(topic: [UInt8], seq: UInt64, payload: [UInt8])
    case failure(String)
}

/// A version 2 client's read loop: frames lines, parses them in version 2, and reads the
/// payload of each `MSG` header with `readPayload`.
struct ClientReader {
    var framer = LineFramer(maxLineBytes: 1024)
    var items: [ClientItem] = []
    var header: (topic: [UInt8], seq: UInt64)?

    mutating func feed(_ chunk: some Collection<UInt8>) {
        var found: [ClientItem] = []
        var pending = header
        _ = Array(chunk).withUnsafeBytes { raw in
            framer.feed(raw) { event in
                switch event {
                case let .line(line):
                    do throws(FrameError) {
                        let view = try ServerFrameParser.parse(line, version: 2)
                        if case let .msgHeader(topic, seq, size) = view {
                            pending = (Array(topic), seq)
                            return .readPayload(Int(clamping: size))
                        }
                        found.append(.frame(ServerFrame(view)))
                    } catch {
                        found.append(.failure(error.reason))
                    }
                case let .payload(payload):
                    if let message = pending { found.append(.message(topic: message.topic, seq: message.seq, payload: Array(payload))) }
                    pending = nil
                case .lineTooLong: found.append(.failure("line too long"))
                case .payloadSkipped: found.append(.failure("skipped"))
                case .badFraming: found.append(.failure("bad framing"))
                }
                return .proceed
            }
        }
        header = pending
        items += found
    }
}

@Suite struct ServerFrameV2Tests {
    @Test func aVersionTwoMsgLineIsAHeader() throws {
        #expect(try ServerFrameParser.parse(bytes("MSG a.b 7 5"), version: 2) == .msgHeader(topic: bytes("a.b"), seq: 7, size: 5))
        #expect(try ServerFrameParser.parse(bytes("msg t 0 0"), version: 2) == .msgHeader(topic: bytes("t"), seq: 0, size: 0))
        // 19 and 20 digits, leading zeros included.
        #expect(try ServerFrameParser.parse(bytes("MSG t 9999999999999999999 00000000000000000012"), version: 2)
                == .msgHeader(topic: bytes("t"), seq: 9_999_999_999_999_999_999, size: 12))
        #expect(try ServerFrameParser.parse(bytes("MSG t \(UInt64.max) \(UInt64.max)"), version: 2)
                == .msgHeader(topic: bytes("t"), seq: UInt64.max, size: UInt64.max))
        // The same line in version 1 is a message whose payload is "7 5".
        #expect(try ServerFrameParser.parse(bytes("MSG a.b 7 5")) == .msg(topic: bytes("a.b"), payload: bytes("7 5")))
        #expect(try ServerFrameParser.parse(bytes("MSG a.b 7 5"), version: 1) == .msg(topic: bytes("a.b"), payload: bytes("7 5")))
    }

    @Test func aMalformedVersionTwoMsgIsAnError() {
        for line in ["MSG", "MSG ", "MSG t", "MSG t ", "MSG t 5", "MSG t 5 ", "MSG t x 3", "MSG t 5 x", "MSG  5 3", "MSG t 5 3 4",
                     "MSG t 5 -3", "MSG t 18446744073709551616 1", "MSG t 1 18446744073709551616", "MSG t hello world",
                     "MSG t 5  3", "MSG t 5 3x", "MSG t 5x 3", "MSG t 099999999999999999999 1", "MSG t 1 000000000000000000001",
                     "MSG t 99999999999999999999 1", "MSG t +5 3"] {
            #expect(throws: FrameError.self, "\(line)") { try ServerFrameParser.parse(bytes(line), version: 2) }
        }
    }

    @Test func everyOtherFrameParsesAlikeInBothVersions() throws {
        for line in ["OK", "OK 3", "OK 3 e:1", "OK e 0", "OK 2", "ERR bad-topic x y", "PONG", "PONG t", "LAGGED t 4", "BYE bad-framing oops"] {
            #expect(try ServerFrameParser.parse(bytes(line), version: 2) == ServerFrameParser.parse(bytes(line), version: 1), "\(line)")
        }
        for line in ["", "HELLO", "LAGGED t x", "ERR"] {
            #expect(throws: FrameError.self, "\(line)") { try ServerFrameParser.parse(bytes(line), version: 2) }
        }
    }

    @Test func theOwnedHeaderEncodesItsLineOnlyAndParsesBack() throws {
        let frame = ServerFrame.msgHeader(topic: bytes("x.y"), seq: 42, size: 3)
        var buffer: [UInt8] = []
        frame.encode(into: &buffer)
        #expect(buffer == bytes("MSG x.y 42 3\n"))
        buffer.removeLast()
        #expect(try ServerFrameParser.parse(buffer, version: 2) == frame)
    }

    @Test func thePublishReplyGivesTheCountAndThePosition() {
        let reply = ServerFrameParser.publishReply(bytes("3 k3x9:12"))
        #expect(reply?.count == 3 && reply?.position == StreamPosition(epoch: "k3x9", seq: 12))
        let largest = ServerFrameParser.publishReply(bytes("0 0:18446744073709551615"))
        #expect(largest?.count == 0 && largest?.position == StreamPosition(epoch: "0", seq: UInt64.max))
        bytes("12 ab:7").withUnsafeBytes { raw in
            let reply = ServerFrameParser.publishReply(raw)
            #expect(reply?.count == 12 && reply?.seq == 7 && reply.map { Array($0.epoch) } == bytes("ab"))
        }
        for rest in ["", "3", "3 ", "3 k3x", "3 K3X:1", "x k:1", "3 k:1 extra", "3  k:1", "-1 k:1", "3 k:", "3 :1", "18446744073709551616 k:1"] {
            #expect(ServerFrameParser.publishReply(bytes(rest)) == nil, "\(rest)")
        }
    }

    @Test func theSubscribeReplyGivesTheEpochAndTheHead() {
        #expect(ServerFrameParser.subscribeReply(bytes("k3x9 0")) == StreamPosition(epoch: "k3x9", seq: 0))
        #expect(ServerFrameParser.subscribeReply(bytes("z 18446744073709551615")) == StreamPosition(epoch: "z", seq: UInt64.max))
        bytes("ab 7").withUnsafeBytes { raw in
            let reply = ServerFrameParser.subscribeReply(raw)
            #expect(reply?.head == 7 && reply.map { Array($0.epoch) } == bytes("ab"))
        }
        for rest in ["", "k3x", "k3x ", "k3x x", "K 1", "k 1 2", " 1", "k:1 2", "k -1", "\(String(repeating: "a", count: 33)) 1"] {
            #expect(ServerFrameParser.subscribeReply(bytes(rest)) == nil, "\(rest)")
        }
    }

    @Test func aClientReadsMessagesWithTheirPayloadsAtEverySplit() {
        let stream = bytes("OK 2\nMSG t 1 5\nhe\nlo\nLAGGED t 2\nMSG t 4 0\n\nMSG a.b 5 3\r\n\r\n\n\r\nOK 1 e:1\n")
        let expected: [ClientItem] = [
            .frame(.ok(rest: bytes("2"))),
            .message(topic: bytes("t"), seq: 1, payload: bytes("he\nlo")),
            .frame(.lagged(topic: bytes("t"), count: 2)),
            .message(topic: bytes("t"), seq: 4, payload: []),
            .message(topic: bytes("a.b"), seq: 5, payload: bytes("\r\n\n")),
            .frame(.ok(rest: bytes("1 e:1"))),
        ]
        for split in 0...stream.count {
            var reader = ClientReader()
            reader.feed(stream[0..<split])
            reader.feed(stream[split...])
            #expect(reader.items == expected, "split at \(split)")
        }
        var reader = ClientReader()
        for byte in stream { reader.feed([byte]) }
        #expect(reader.items == expected)
    }

    @Test func thousandsOfVersionTwoFramesSurviveEncodeFrameAndParseInRandomChunks() {
        var rng = SeededGenerator(seed: 2024)
        var source = EpochSource(seed: rng.next())
        let epochs = (0..<8).map { _ in source.next() }
        var expected: [ClientItem] = []
        var stream: [UInt8] = []
        for index in 0..<5000 {
            let topic = bytes("t\(index % 17).x")
            switch Int.random(in: 0..<6, using: &rng) {
            case 0, 1, 2:
                let payload = (0..<Int.random(in: 0...200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                let seq = UInt64(index)
                WireEncoder.appendMsgV2(topic: topic, seq: seq, payload: payload, to: &stream)
                expected.append(.message(topic: topic, seq: seq, payload: payload))
            case 3:
                let epoch = epochs.randomElement(using: &rng) ?? []
                WireEncoder.appendOK(count: index % 5, epoch: epoch, seq: UInt64(index), to: &stream)
                var rest = bytes("\(index % 5) ")
                rest += epoch + bytes(":\(index)")
                expected.append(.frame(.ok(rest: rest)))
            case 4:
                let epoch = epochs.randomElement(using: &rng) ?? []
                WireEncoder.appendOK(epoch: epoch, head: UInt64(index), to: &stream)
                expected.append(.frame(.ok(rest: epoch + bytes(" \(index)"))))
            default:
                let frame = ServerFrame.lagged(topic: topic, count: UInt64(index) + 1)
                frame.encode(into: &stream)
                expected.append(.frame(frame))
            }
        }
        var reader = ClientReader()
        var offset = 0
        while offset < stream.count {
            let size = min(Int.random(in: 1...300, using: &rng), stream.count - offset)
            reader.feed(stream[offset..<(offset + size)])
            offset += size
        }
        #expect(reader.items == expected)
        // The OK helpers read back what the encoders wrote.
        for item in reader.items {
            guard case let .frame(.ok(rest?)) = item else { continue }
            let isPublishReply = rest.contains(StreamPosition.separator)
            #expect((ServerFrameParser.publishReply(rest) != nil) == isPublishReply)
            #expect((ServerFrameParser.subscribeReply(rest) != nil) == !isPublishReply)
        }
    }
}
