// RESP2 and RESP3 values read whole, in every split, and refused when malformed or over the limits.
import RESP
import Testing

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Reads one value that must be whole and take every byte.
private func one(_ text: String, limits: RESPLimits = RESPLimits()) throws -> RESPValue {
    let input = bytes(text)
    guard case let .value(value, consumed) = try RESPReader.read(input, limits: limits) else {
        throw RESPError("incomplete: \(text.debugDescription)")
    }
    #expect(consumed == input.count, "\(text.debugDescription)")
    return value
}

@Suite struct RESPReaderTests {
    @Test func everyKindOfRESP2() throws {
        #expect(try one("+OK\r\n") == .simpleString(bytes("OK")))
        #expect(try one("-ERR unknown command\r\n") == .error(bytes("ERR unknown command")))
        #expect(try one("-ERR unknown command\r\n").errorText == "ERR unknown command")
        #expect(try one(":0\r\n") == .integer(0))
        #expect(try one(":-42\r\n") == .integer(-42))
        #expect(try one(":+7\r\n") == .integer(7))
        #expect(try one(":9223372036854775807\r\n") == .integer(Int64.max))
        #expect(try one(":-9223372036854775808\r\n") == .integer(Int64.min))
        #expect(try one("$5\r\nhello\r\n") == .bulkString(bytes("hello")))
        #expect(try one("$0\r\n\r\n") == .bulkString([]))
        #expect(try one("$-1\r\n") == .null)
        #expect(try one("*-1\r\n") == .null)
        #expect(try one("*0\r\n") == .array([]))
        #expect(try one("*3\r\n:1\r\n$1\r\na\r\n*1\r\n+x\r\n")
                == .array([.integer(1), .bulkString(bytes("a")), .array([.simpleString(bytes("x"))])]))
    }

    @Test func aBulkStringHoldsAnyBytesCRLFIncluded() throws {
        let payload: [UInt8] = Array(0...255) + [0x0D, 0x0A, 0x0D]
        var input = bytes("$\(payload.count)\r\n")
        input += payload + [0x0D, 0x0A]
        #expect(try RESPReader.read(input) == .value(.bulkString(payload), consumed: input.count))
    }

    @Test func everyKindOfRESP3() throws {
        #expect(try one("_\r\n") == .null)
        #expect(try one("#t\r\n") == .boolean(true))
        #expect(try one("#f\r\n") == .boolean(false))
        #expect(try one(",1.5\r\n") == .double(bytes("1.5")))
        #expect(try one(",-inf\r\n") == .double(bytes("-inf")))
        #expect(try one("(3492890328409238509324850943850943825024385\r\n")
                == .bigNumber(bytes("3492890328409238509324850943850943825024385")))
        #expect(try one("!21\r\nSYNTAX invalid syntax\r\n") == .error(bytes("SYNTAX invalid syntax")))
        #expect(try one("=15\r\ntxt:Some string\r\n") == .verbatim(format: bytes("txt"), text: bytes("Some string")))
        #expect(try one("%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n")
                == .map([RESPPair(key: .simpleString(bytes("first")), value: .integer(1)),
                         RESPPair(key: .simpleString(bytes("second")), value: .integer(2))]))
        #expect(try one("~2\r\n+a\r\n+b\r\n") == .set([.simpleString(bytes("a")), .simpleString(bytes("b"))]))
        #expect(try one(">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n")
                == .push([.bulkString(bytes("message")), .bulkString(bytes("c")), .bulkString(bytes("hi"))]))
        // An attribute is read and dropped: the value after it is the reply.
        #expect(try one("|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*1\r\n:2\r\n") == .array([.integer(2)]))
    }

    @Test func twoValuesInOneBufferAreReadOneAtATime() throws {
        let input = bytes("+OK\r\n:5\r\n")
        #expect(try RESPReader.read(input) == .value(.simpleString(bytes("OK")), consumed: 5))
        #expect(try RESPReader.read(Array(input[5...])) == .value(.integer(5), consumed: 4))
    }

    /// Every prefix of a value is incomplete, asks for no more than the value's size,
    /// and the whole value reads the same.
    @Test(arguments: [
        "+OK\r\n", "-ERR x\r\n", ":123\r\n", "$5\r\nhello\r\n", "$-1\r\n", "*2\r\n$1\r\na\r\n*1\r\n:7\r\n",
        "%1\r\n+k\r\n~1\r\n#t\r\n", ">2\r\n+pmessage\r\n=7\r\ntxt:abc\r\n", "|1\r\n+a\r\n+b\r\n_\r\n", "$0\r\n\r\n",
    ])
    func everyPrefixIsIncompleteAndAsksForNoMoreThanTheWhole(text: String) throws {
        let input = bytes(text)
        let whole = try one(text)
        for cut in 0..<input.count {
            let result = try RESPReader.read(Array(input[0..<cut]))
            guard case let .incomplete(need) = result else {
                Issue.record("prefix of \(cut) bytes read as \(result)")
                continue
            }
            #expect(need > cut && need <= input.count, "cut \(cut): needs \(need)")
        }
        #expect(try RESPReader.read(input + bytes("+next\r\n")) == .value(whole, consumed: input.count))
    }

    @Test func aLargeBulkStringAsksForAllOfItAtOnce() throws {
        let header = bytes("$1000000\r\n")
        #expect(try RESPReader.read(header + [UInt8](repeating: 1, count: 10)) == .incomplete(needAtLeast: header.count + 1_000_002))
    }

    @Test(arguments: [
        "?\r\n", "+OK\n", "$5\r\nhello\n\n", "$5\r\nhelloXY", "$-2\r\n", "$x\r\n", "$\r\n", "*-2\r\n", ":\r\n", ":12a\r\n",
        ":99999999999999999999\r\n", ":9223372036854775808\r\n", ":-9223372036854775809\r\n", "#x\r\n", "#tt\r\n",
        "_x\r\n", "=2\r\nab\r\n", "~-1\r\n", "%-1\r\n", ">-1\r\n", "!-1\r\n", "$99999999999999999999\r\n",
    ])
    func malformedBytesAreAnErrorNotATrap(text: String) {
        #expect(throws: RESPError.self, "\(text.debugDescription)") { try RESPReader.read(bytes(text)) }
    }

    @Test func theLimitsAreCheckedBeforeAnythingIsAllocated() throws {
        let limits = RESPLimits(maxBulkBytes: 10, maxElements: 4, maxDepth: 3, maxLineBytes: 8)
        #expect(throws: RESPError.self) { try RESPReader.read(bytes("$11\r\n"), limits: limits) }
        #expect(throws: RESPError.self) { try RESPReader.read(bytes("*5\r\n"), limits: limits) }
        #expect(throws: RESPError.self) { try RESPReader.read(bytes("%5\r\n"), limits: limits) }
        #expect(throws: RESPError.self) { try RESPReader.read(bytes("*9223372036854775807\r\n")) }
        #expect(throws: RESPError.self) { try RESPReader.read(bytes("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n"), limits: limits) }
        #expect(throws: RESPError.self) { try RESPReader.read(bytes("+1234567890"), limits: limits) }  // no CRLF can save it
        #expect(throws: RESPError.self) { try RESPReader.read(bytes("+123456789\r\n"), limits: limits) }
        // At the limits: accepted.
        #expect(try RESPReader.read(bytes("*1\r\n*1\r\n:1\r\n"), limits: limits) == .value(.array([.array([.integer(1)])]), consumed: 12))
        #expect(try RESPReader.read(bytes("+12345678\r\n"), limits: limits) == .value(.simpleString(bytes("12345678")), consumed: 11))
        #expect(try RESPReader.read(bytes("+1234567"), limits: limits) == .incomplete(needAtLeast: 9))
        // A long chain of attributes stops at the depth limit too.
        let chain = String(repeating: "|0\r\n", count: 10) + ":1\r\n"
        #expect(throws: RESPError.self) { try RESPReader.read(bytes(chain), limits: limits) }
    }

    @Test func randomBytesNeverTrap() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = bytes("+-:$*_#,(!=%~>|\r\n0123456789-abc")
        for _ in 0..<20_000 {
            let count = Int.random(in: 0...40, using: &generator)
            let input = (0..<count).map { _ in alphabet.randomElement(using: &generator) ?? 0 }
            _ = try? RESPReader.read(input, limits: RESPLimits(maxBulkBytes: 64, maxElements: 8, maxDepth: 4, maxLineBytes: 16))
        }
    }
}

@Suite struct RESPWriterTests {
    @Test func aCommandIsAnArrayOfBulkStrings() {
        var buffer: [UInt8] = []
        RESPWriter.appendCommand(["SET", "key", ""], to: &buffer)
        #expect(buffer == bytes("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$0\r\n\r\n"))
        buffer = []
        RESPWriter.appendCommand([bytes("PUBLISH"), [0x0D, 0x0A, 0x00]], to: &buffer)
        #expect(buffer == bytes("*2\r\n$7\r\nPUBLISH\r\n$3\r\n") + [0x0D, 0x0A, 0x00, 0x0D, 0x0A])
    }

    @Test func whatIsWrittenReadsBackAsTheSameStrings() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let arguments = (0..<Int.random(in: 1...6, using: &generator)).map { _ in
                (0..<Int.random(in: 0...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            }
            var buffer: [UInt8] = []
            RESPWriter.appendCommand(arguments, to: &buffer)
            #expect(try RESPReader.read(buffer) == .value(.array(arguments.map { .bulkString($0) }), consumed: buffer.count))
        }
    }
}
