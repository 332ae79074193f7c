// Client commands as PROTOCOL.md, "Client to broker" and "Error codes", define them.
import Testing
import Protocol

@Suite struct CommandParserTests {
    @Test func verbsAreCaseInsensitive() throws {
        for verb in ["PUB", "pub", "Pub", "pUb"] {
            #expect(try parse("\(verb) t x").get() == .publish("t", "x"))
        }
        #expect(try parse("sub a").get() == .subscribe(pattern: bytes("a")))
        #expect(try parse("Unsub a").get() == .unsubscribe(pattern: bytes("a")))
        #expect(try parse("ping").get() == .ping(token: nil))
        #expect(try parse("qUIT").get() == .quit)
    }

    @Test func thePayloadIsEverythingAfterTheSpaceThatFollowsTheTopic() throws {
        #expect(try parse("PUB t hello  world ").get() == .publish("t", "hello  world "))
        #expect(try parse("PUB t  lead").get() == .publish("t", " lead"))
        #expect(try parse("PUB t a\u{1}b\tc").get() == .publish("t", "a\u{1}b\tc"))
    }

    @Test func anEmptyPayloadIsAllowed() throws {
        #expect(try parse("PUB t ").get() == .publish("t", ""))
    }

    @Test func aPayloadEndingWithCRIsBadArguments() throws {
        #expect(errorCode("PUB t abc\r") == .badArguments)
        #expect(errorCode("PUB t \r") == .badArguments)
    }

    @Test func pubNeedsTheSpaceAfterTheTopic() throws {
        #expect(errorCode("PUB t") == .badArguments)
        #expect(errorCode("PUB ") == .badArguments)
        #expect(errorCode("PUB") == .badArguments)
        #expect(errorCode("PUB  x") == .badTopic)
    }

    @Test func subAndUnsubTakeExactlyOneArgumentCheckedBeforeTheTopic() throws {
        for verb in ["SUB", "UNSUB"] {
            #expect(errorCode("\(verb)") == .badArguments)
            #expect(errorCode("\(verb) a b") == .badArguments)
            #expect(errorCode("\(verb) a ") == .badArguments)
            #expect(errorCode("\(verb) a.. b") == .badArguments)
            #expect(errorCode("\(verb) ") == .badTopic)
            #expect(errorCode("\(verb) a..b") == .badTopic)
        }
    }

    @Test func pingTakesAtMostOneToken() throws {
        #expect(try parse("PING abc").get() == .ping(token: bytes("abc")))
        #expect(try parse("PING ").get() == .ping(token: nil))
        #expect(errorCode("PING a b") == .badArguments)
        #expect(errorCode("PING a ") == .badArguments)
        #expect(errorCode("PING a\r") == .badArguments)  // its PONG could not be read back whole
    }

    @Test func quitTakesNoArgument() throws {
        #expect(try parse("QUIT").get() == .quit)
        #expect(errorCode("QUIT now") == .badArguments)
        #expect(errorCode("QUIT ") == .badArguments)
    }

    @Test func anUnknownVerbIsUnknownCommandWhateverFollows() throws {
        #expect(errorCode("HELO 2") == .unknownCommand)  // HELLO is a verb since version 2
        #expect(errorCode("PUBLISH t x") == .unknownCommand)
        #expect(errorCode("PU t x") == .unknownCommand)
        #expect(errorCode("SUB\tx") == .unknownCommand)
        #expect(errorCode(" PUB t x") == .unknownCommand)
        #expect(errorCode("FOO a b c d") == .unknownCommand)
        #expect(errorCode("\u{0}") == .unknownCommand)
    }

    @Test func aTopicIsOneTo255PrintableASCIIBytes() throws {
        let max = String(repeating: "a", count: 255)
        #expect(try parse("PUB \(max) x").get() == .publish(max, "x"))
        #expect(errorCode("PUB \(max)a x") == .badTopic)
        #expect(errorCode("PUB caf\u{e9} x") == .badTopic)
        #expect(errorCode("PUB a\u{7f}b x") == .badTopic)
        #expect(errorCode("PUB a\u{1}b x") == .badTopic)
        #expect(try parse("PUB !~#\"{} x").get() == .publish("!~#\"{}", "x"))
        #expect(try parse("SUB \(max)").get() == .subscribe(pattern: bytes(max)))
        #expect(errorCode("SUB \(max)a") == .badTopic)
        #expect(errorCode("SUB \(String(repeating: "a.", count: 127))>>") == .badTopic)
    }

    @Test func levelsAreNeverEmpty() throws {
        for topic in ["a..b", ".a", "a.", ".", ".."] {
            #expect(errorCode("PUB \(topic) x") == .badTopic, "\(topic)")
            #expect(errorCode("SUB \(topic)") == .badTopic, "\(topic)")
        }
        #expect(try parse("PUB orders.eu.created x").get() == .publish("orders.eu.created", "x"))
    }

    @Test func wildcardsAreWholeLevelsAndGreaterOnlyLast() throws {
        for pattern in ["orders.*.created", "orders.>", "*", ">", "*.*", "*.>", "a.*"] {
            #expect(errorCode("SUB \(pattern)") == nil, "\(pattern)")
            #expect(errorCode("UNSUB \(pattern)") == nil, "\(pattern)")
        }
        for pattern in ["a*", "*a", "a.b*", ">.a", "a.>.b", "a>", "**", ">>", "a.>b"] {
            #expect(errorCode("SUB \(pattern)") == .badTopic, "\(pattern)")
        }
    }

    @Test func wildcardsNeverAppearInAPubTopic() throws {
        for topic in ["*", ">", "a.*", "a.>", "a*", "x>y", "*.b"] {
            #expect(errorCode("PUB \(topic) x") == .badTopic, "\(topic)")
        }
    }

    @Test func pubToADollarTopicIsReservedAfterTheNameRules() throws {
        #expect(errorCode("PUB $SYS.lagged x") == .reservedTopic)
        #expect(errorCode("PUB $x y") == .reservedTopic)
        #expect(errorCode("PUB $x.* z") == .badTopic)
        #expect(errorCode("PUB a.$b z") == nil)
        #expect(errorCode("SUB $SYS.>") == nil)
    }

    @Test func theTextOfAnErrorIsNeverEmptyAndHasNoLineBreak() throws {
        let lines = ["FOO", "PUB", "PUB t", "PUB  x", "PUB $a x", "PUB t x\r", "SUB", "SUB ", "SUB a*", "PING a b", "QUIT x",
                     "PUB \(String(repeating: "a", count: 300)) x", "PUB a..b x", "PUB a\u{1} x", "PUB a.* x"]
        for line in lines {
            guard case let .failure(error) = parse(line) else {
                Issue.record("\(line) parsed")
                continue
            }
            #expect(!error.text.isEmpty)
            #expect(!error.text.utf8.contains(0x0A) && !error.text.utf8.contains(0x0D))
            #expect(error.code.rawValue.allSatisfy { $0.isLowercase || $0 == "-" })
        }
    }

    @Test func statsTakesAnOptionalConcreteTopic() throws {
        #expect(try parse("STATS").get() == .stats(topic: nil))
        #expect(try parse("stats orders.eu").get() == .stats(topic: bytes("orders.eu")))
        #expect(errorCode("STATS a b") == .badArguments)
        #expect(errorCode("STATS a.*") == .badTopic)
        #expect(errorCode("STATS a..b") == .badTopic)
    }

    @Test func authTakesATokenOrAUserAndAToken() throws {
        #expect(try parse("AUTH s3cret").get() == .auth(user: nil, token: bytes("s3cret")))
        #expect(try parse("AUTH alice s3cret").get() == .auth(user: bytes("alice"), token: bytes("s3cret")))
        #expect(errorCode("AUTH") == .badArguments)
        #expect(errorCode("AUTH ") == .badArguments)
        #expect(errorCode("AUTH a b c") == .badArguments)
        #expect(errorCode("AUTH a ") == .badArguments)
        #expect(errorCode("AUTH  b") == .badArguments)
        #expect(errorCode("AUTH a  b") == .badArguments)
    }
}
