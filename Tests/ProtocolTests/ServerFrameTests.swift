// Frames the broker writes: byte-exact encoding and the client-side parser.
import Testing
import Protocol

@Suite struct ServerFrameTests {
    func encoded(_ frame: ServerFrame) -> String {
        var buffer: [UInt8] = []
        frame.encode(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    @Test func everyFrameIsEncodedByteExactWithOneLF() throws {
        #expect(encoded(.ok(rest: nil)) == "OK\n")
        #expect(encoded(.ok(rest: bytes("3"))) == "OK 3\n")
        #expect(encoded(.err(code: .badTopic, text: "topic is empty")) == "ERR bad-topic topic is empty\n")
        #expect(encoded(.pong(token: nil)) == "PONG\n")
        #expect(encoded(.pong(token: bytes("x1"))) == "PONG x1\n")
        #expect(encoded(.msg(topic: bytes("a.b"), payload: bytes("hi there"))) == "MSG a.b hi there\n")
        #expect(encoded(.lagged(topic: bytes("a.b"), count: 1_234_567)) == "LAGGED a.b 1234567\n")
        #expect(encoded(.bye(code: .shuttingDown, text: "broker is stopping")) == "BYE shutting-down broker is stopping\n")
    }

    @Test func msgAlwaysHasTheSpaceAfterTheTopic() throws {
        #expect(encoded(.msg(topic: bytes("t"), payload: [])) == "MSG t \n")
        #expect(try ServerFrameParser.parse(bytes("MSG t ")) == .msg(topic: bytes("t"), payload: []))
    }

    @Test func okCountIsWrittenInDecimal() throws {
        for n in [0, 7, 10, 99, 100, 65_536, Int(Int32.max)] {
            var buffer: [UInt8] = []
            WireEncoder.appendOK(count: n, to: &buffer)
            #expect(String(decoding: buffer, as: UTF8.self) == "OK \(n)\n")
        }
        var buffer: [UInt8] = []
        WireEncoder.appendDecimal(UInt64.max, to: &buffer)
        #expect(String(decoding: buffer, as: UTF8.self) == "\(UInt64.max)")
    }

    @Test func everyFrameParsesBack() throws {
        let frames: [ServerFrame] = [
            .ok(rest: nil), .ok(rest: bytes("12")), .ok(rest: bytes("topic=a b=c")),
            .err(code: .lineTooLong, text: "line is longer than 65536 bytes"),
            .pong(token: nil), .pong(token: bytes("abc")),
            .msg(topic: bytes("x.y"), payload: bytes(" spaced  payload ")),
            .lagged(topic: bytes("x.y"), count: 0), .lagged(topic: bytes("x"), count: UInt64.max),
            .bye(code: .idleTimeout, text: "no complete line for 60000 ms"),
        ]
        for frame in frames {
            var buffer: [UInt8] = []
            frame.encode(into: &buffer)
            buffer.removeLast()
            #expect(try ServerFrameParser.parse(buffer) == frame)
        }
    }

    @Test func malformedFramesAreErrors() throws {
        for line in ["", "HELLO", "MSG", "MSG t", "MSG  x", "LAGGED t", "LAGGED t x", "LAGGED t -1",
                     "LAGGED t 99999999999999999999", "ERR", "BYE "] {
            #expect(throws: FrameError.self, "\(line)") { try ServerFrameParser.parse(bytes(line)) }
        }
    }

    @Test func clientCommandsAreEncodedInUpperCase() throws {
        let commands: [(Command, String)] = [
            (.publish("a.b", "x y"), "PUB a.b x y\n"),
            (.publish("a", ""), "PUB a \n"),
            (.subscribe(pattern: bytes("a.>")), "SUB a.>\n"),
            (.unsubscribe(pattern: bytes("a.*")), "UNSUB a.*\n"),
            (.ping(token: nil), "PING\n"),
            (.ping(token: bytes("t")), "PING t\n"),
            (.quit, "QUIT\n"),
        ]
        for (command, wire) in commands {
            var buffer: [UInt8] = []
            command.encode(into: &buffer)
            #expect(String(decoding: buffer, as: UTF8.self) == wire)
        }
    }
}
