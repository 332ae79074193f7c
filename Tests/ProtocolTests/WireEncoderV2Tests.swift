// Version 2 frames, byte-exact, in both directions.
import Testing
import Protocol

@Suite struct WireEncoderV2Tests {
    func text(_ write: (inout [UInt8]) -> Void) -> String {
        var buffer: [UInt8] = []
        write(&buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    @Test func brokerFramesOfVersionTwoAreByteExact() {
        #expect(text { WireEncoder.appendMsgV2Header(topic: bytes("a.b"), seq: 7, size: 5, to: &$0) } == "MSG a.b 7 5\n")
        #expect(text { WireEncoder.appendMsgV2Header(topic: bytes("t"), seq: UInt64.max, size: 0, to: &$0) } == "MSG t \(UInt64.max) 0\n")
        #expect(text { WireEncoder.appendMsgV2(topic: bytes("t"), seq: 1, payload: bytes("a\nb"), to: &$0) } == "MSG t 1 3\na\nb\n")
        #expect(text { WireEncoder.appendMsgV2(topic: bytes("t"), seq: 2, payload: [UInt8](), to: &$0) } == "MSG t 2 0\n\n")
        #expect(text { WireEncoder.appendOK(count: 3, position: StreamPosition(epoch: "k3x9", seq: 12), to: &$0) } == "OK 3 k3x9:12\n")
        #expect(text { WireEncoder.appendOK(count: 0, epoch: bytes("e"), seq: 1, to: &$0) } == "OK 0 e:1\n")
        #expect(text { WireEncoder.appendOK(count: -4, epoch: bytes("e"), seq: 1, to: &$0) } == "OK 0 e:1\n")
        #expect(text { WireEncoder.appendOK(epoch: bytes("k3x9"), head: 0, to: &$0) } == "OK k3x9 0\n")
        #expect(text { WireEncoder.appendOK(epoch: bytes("z"), head: UInt64.max, to: &$0) } == "OK z \(UInt64.max)\n")
        #expect(text { WireEncoder.appendOK(version: 2, to: &$0) } == "OK 2\n")
        #expect(text { WireEncoder.appendOK(version: 1, to: &$0) } == "OK 1\n")
        #expect(text { WireEncoder.appendPosition(epoch: bytes("ab"), seq: 10, to: &$0) } == "ab:10")
    }

    @Test func clientCommandsOfVersionTwoAreByteExact() {
        let cases: [(Command, String)] = [
            (.hello(version: 2), "HELLO 2\n"),
            (.hello(version: 1), "HELLO 1\n"),
            (.binaryPublish(topic: bytes("a.b"), payload: bytes("x\ny")), "BPUB a.b 3\nx\ny\n"),
            (.binaryPublish(topic: bytes("t"), payload: []), "BPUB t 0\n\n"),
            (.subscribe(pattern: bytes("a")), "SUB a\n"),
            (.subscribe(pattern: bytes("a"), options: SubscribeOptions(from: StreamPosition(epoch: "k3", seq: 9))), "SUB a from=k3:9\n"),
            (.subscribe(pattern: bytes("a"), options: SubscribeOptions(last: 4)), "SUB a last=4\n"),
            (.subscribe(pattern: bytes("a.*"), options: SubscribeOptions(group: bytes("w"))), "SUB a.* group=w\n"),
            (.subscribe(pattern: bytes("a"), options: SubscribeOptions(from: StreamPosition(epoch: "e", seq: 0), last: 2, group: bytes("g"))),
             "SUB a from=e:0 last=2 group=g\n"),
            (.unsubscribe(pattern: bytes("a")), "UNSUB a\n"),
            (.unsubscribe(pattern: bytes("a.>"), group: bytes("w")), "UNSUB a.> group=w\n"),
        ]
        for (command, wire) in cases {
            var buffer: [UInt8] = []
            command.encode(into: &buffer)
            #expect(String(decoding: buffer, as: UTF8.self) == wire)
        }
        #expect(text { WireEncoder.appendBpubHeader(topic: bytes("t"), size: 1 << 20, to: &$0) } == "BPUB t 1048576\n")
        var frame: [UInt8] = []
        WireEncoder.appendBpub(topic: bytes("t"), payload: everyByte, to: &frame)
        #expect(frame == bytes("BPUB t 256\n") + everyByte + [0x0A])
    }

    @Test func theMessageHeaderIsWrittenIntoTheGivenBufferWithoutGrowingIt() {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(256)
        let topic: [UInt8] = bytes("orders.eu.created")
        let base = buffer.withUnsafeBufferPointer { $0.baseAddress }
        for seq in [0, 9, 10, UInt64.max] {
            buffer.removeAll(keepingCapacity: true)
            WireEncoder.appendMsgV2Header(topic: topic, seq: seq, size: 1 << 20, to: &buffer)
            WireEncoder.appendOK(count: 12, epoch: topic, seq: seq, to: &buffer)
            #expect(buffer.withUnsafeBufferPointer { $0.baseAddress } == base)
        }
        #expect(String(decoding: buffer, as: UTF8.self) == "MSG orders.eu.created \(UInt64.max) 1048576\nOK 12 orders.eu.created:\(UInt64.max)\n")
    }

    @Test func everyVersionTwoCommandParsesBackFromItsEncoding() throws {
        let commands: [Command] = [
            .hello(version: 1), .hello(version: 2),
            .subscribe(pattern: bytes("a.b"), options: SubscribeOptions(from: StreamPosition(epoch: "0", seq: UInt64.max), group: bytes("g"))),
            .subscribe(pattern: bytes("a.b"), options: SubscribeOptions(last: 1)),
            .subscribe(pattern: bytes("*.b"), options: SubscribeOptions(group: bytes("A_b-9"))),
            .unsubscribe(pattern: bytes("a.>"), group: bytes("x")),
            .unsubscribe(pattern: bytes("a.>"), group: nil),
        ]
        for command in commands {
            var buffer: [UInt8] = []
            command.encode(into: &buffer)
            buffer.removeLast()
            #expect(try CommandParser.parse(buffer, version: 2) == command)
        }
    }
}

@Suite struct StreamPositionTests {
    @Test func aPositionIsEpochColonSeq() throws {
        #expect(StreamPosition(parsing: bytes("k3x9:12")) == StreamPosition(epoch: "k3x9", seq: 12))
        #expect(StreamPosition(parsing: bytes("0:0")) == StreamPosition(epoch: "0", seq: 0))
        #expect(StreamPosition(parsing: bytes("z:18446744073709551615")) == StreamPosition(epoch: "z", seq: UInt64.max))
        #expect(StreamPosition(epoch: "ab", seq: 3).description == "ab:3")
        for text in ["", ":", "a:", ":1", "A:1", "a:1:2", "a:-1", "a:18446744073709551616", "a-b:1", "a 1", "a:1 ",
                     String(repeating: "a", count: 33) + ":1", "a:000000000000000000001"] {
            #expect(StreamPosition(parsing: bytes(text)) == nil, "\(text)")
        }
    }

    @Test func theBorrowedComponentsPointIntoTheText() {
        let text = bytes("abc:42")
        text.withUnsafeBytes { raw in
            guard let (epoch, seq) = StreamPosition.components(of: raw) else {
                Issue.record("not parsed")
                return
            }
            #expect(epoch.baseAddress == raw.baseAddress && epoch.count == 3)
            #expect(seq == 42)
        }
    }

    @Test func encodingThenParsingGivesTheSamePosition() {
        var rng = SeededGenerator(seed: 3)
        var source = EpochSource(seed: rng.next())
        for _ in 0..<1000 {
            let position = StreamPosition(epoch: source.next(), seq: rng.next() >> UInt64.random(in: 0...63, using: &rng))
            var buffer: [UInt8] = []
            position.encode(into: &buffer)
            #expect(StreamPosition(parsing: buffer) == position)
        }
    }
}
