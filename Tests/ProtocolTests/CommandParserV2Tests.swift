// Client commands of PROTOCOL.md's "Version 2": HELLO, BPUB, SUB options, UNSUB groups, in both versions.
import Testing
import Protocol

@Suite struct HelloParsingTests {
    @Test func helloTakesVersionOneOrTwoInBothVersions() throws {
        for version in [1, 2] {
            #expect(try parse("HELLO 2", version: version).get() == .hello(version: 2))
            #expect(try parse("HELLO 1", version: version).get() == .hello(version: 1))
            #expect(try parse("hello 2", version: version).get() == .hello(version: 2))
            #expect(try parse("Hello 1", version: version).get() == .hello(version: 1))
        }
    }

    @Test func anyOtherVersionIsUnsupported() {
        for version in [1, 2] {
            for line in ["HELLO 3", "HELLO 02", "HELLO 01", "HELLO x", "HELLO 0", "HELLO 10", "HELLO -1", "HELLO +2", "HELLO 2\r", "HELLO v2"] {
                #expect(errorCode(line, version: version) == .unsupportedVersion, "\(line.debugDescription) in version \(version)")
            }
        }
    }

    @Test func helloWithoutExactlyOneArgumentIsBadArguments() {
        for version in [1, 2] {
            for line in ["HELLO", "HELLO ", "HELLO 2 2", "HELLO 2 ", "HELLO  2", "HELLO 2 x"] {
                #expect(errorCode(line, version: version) == .badArguments, "\(line.debugDescription) in version \(version)")
            }
        }
    }
}

@Suite struct BinaryPublishParsingTests {
    @Test func bpubGivesTheTopicAndTheSizeInBothVersions() {
        for version in [1, 2] {
            #expect(parseView("BPUB t 5", version: version) == .binaryPublish(topic: "t", size: 5, refusal: nil))
            #expect(parseView("bpub orders.eu 0", version: version) == .binaryPublish(topic: "orders.eu", size: 0, refusal: nil))
            #expect(parseView("BPub t 00007", version: version) == .binaryPublish(topic: "t", size: 7, refusal: nil))
            #expect(parseView("BPUB t 1048577", version: version) == .binaryPublish(topic: "t", size: 1_048_577, refusal: nil))
        }
    }

    @Test func aTwentyDigitSizeOf2To64OrMoreSaturates() {
        #expect(parseView("BPUB t 18446744073709551615") == .binaryPublish(topic: "t", size: UInt64.max, refusal: nil))
        #expect(parseView("BPUB t 18446744073709551614") == .binaryPublish(topic: "t", size: UInt64.max - 1, refusal: nil))
        #expect(parseView("BPUB t 18446744073709551616") == .binaryPublish(topic: "t", size: UInt64.max, refusal: nil))
        #expect(parseView("BPUB t 99999999999999999999") == .binaryPublish(topic: "t", size: UInt64.max, refusal: nil))
        #expect(parseView("BPUB t 00000000000000000001") == .binaryPublish(topic: "t", size: 1, refusal: nil))
    }

    @Test func anUnreadableSizeOrArgumentCountLosesFraming() {
        let lines = ["BPUB", "BPUB ", "BPUB t", "BPUB t ", "BPUB t 5 x", "BPUB t 5 ", "BPUB t  5", "BPUB t -1", "BPUB t +1",
                     "BPUB t 1e3", "BPUB t 0x10", "BPUB t 5\r", "BPUB t x", "BPUB t 100000000000000000000",
                     "BPUB t 000000000000000000001", "BPUB  ", "BPUB a..b x", "BPUB $x y", "BPUB t 5 5"]
        for version in [1, 2] {
            for line in lines {
                guard case let .failure(error) = parseView(line, version: version) else {
                    Issue.record("\(line.debugDescription) parsed in version \(version)")
                    continue
                }
                #expect(error.code == .badArguments, "\(line.debugDescription)")
                #expect(error.losesFraming, "\(line.debugDescription)")
            }
        }
    }

    @Test func theRefusalSaysWhetherTheArgumentsOrTheSizeAreWrong() {
        for line in ["BPUB", "BPUB t", "BPUB t 5 x", "BPUB t 5 ", "BPUB t 5 5"] {
            #expect(refusal(line, version: 2)?.text == "BPUB takes a topic and a size", "\(line)")
        }
        for line in ["BPUB t x", "BPUB t ", "BPUB t -1", "BPUB t 100000000000000000000"] {
            #expect(refusal(line, version: 2)?.text == "a BPUB size is 1 to 20 decimal digits", "\(line)")
        }
    }

    @Test func aBadTopicWithAReadableSizeIsARefusalNotAnError() {
        for version in [1, 2] {
            #expect(parseView("BPUB  5", version: version) == .binaryPublish(topic: "", size: 5, refusal: .badTopic(.empty)))
            #expect(parseView("BPUB a..b 5", version: version) == .binaryPublish(topic: "a..b", size: 5, refusal: .badTopic(.emptyLevel)))
            #expect(parseView("BPUB a.* 0", version: version) == .binaryPublish(topic: "a.*", size: 0, refusal: .badTopic(.wildcardInTopic)))
            #expect(parseView("BPUB $SYS.x 3", version: version) == .binaryPublish(topic: "$SYS.x", size: 3, refusal: .reservedTopic))
            // The naming rules come before the reservation, as for PUB.
            #expect(parseView("BPUB $x.* 3", version: version) == .binaryPublish(topic: "$x.*", size: 3, refusal: .badTopic(.wildcardInTopic)))
            let long = String(repeating: "a", count: 256)
            #expect(parseView("BPUB \(long) 99999999999999999999", version: version)
                    == .binaryPublish(topic: long, size: UInt64.max, refusal: .badTopic(.tooLong)))
        }
    }

    @Test func aRefusalIsTheSameReplyAsPubGivesForThatTopic() {
        for topic in ["", "a..b", "a.*", "$SYS.x", "$x.*", "caf\u{e9}", String(repeating: "b", count: 300)] {
            guard case let .binaryPublish(_, _, refusal?) = parseView("BPUB \(topic) 1"),
                  case let .failure(pubError) = parse("PUB \(topic) x") else {
                Issue.record("\(topic) was not refused")
                continue
            }
            #expect(refusal.error == pubError, "\(topic)")
            #expect(!refusal.error.losesFraming)
        }
    }

    @Test func theOwnedParseThrowsARefusalAndLeavesThePayloadEmpty() throws {
        #expect(try parse("BPUB t 3").get() == .binaryPublish(topic: bytes("t"), payload: []))
        #expect(errorCode("BPUB $x 3") == .reservedTopic)
        #expect(errorCode("BPUB a..b 3") == .badTopic)
        #expect(refusal("BPUB t", version: 1)?.losesFraming == true)
    }

    @Test func otherErrorsKeepFraming() {
        for line in ["FOO", "PUB t", "PUB  x", "PUB $a x", "SUB a b", "HELLO 3", "PING a b", "SUB a.* last=1", "UNSUB a x"] {
            for version in [1, 2] {
                #expect(refusal(line, version: version)?.losesFraming == false, "\(line)")
            }
        }
        #expect(ProtocolError(.badArguments, "x").losesFraming == false)
        #expect(ProtocolError(.badArguments, "x", losesFraming: true).losesFraming)
        #expect(ProtocolError(.badArguments, "x", losesFraming: true) != ProtocolError(.badArguments, "x"))
    }
}

@Suite struct SubscribeParsingTests {
    func options(_ line: String) throws -> SubscribeOptions {
        guard case let .subscribe(_, options) = try parse(line, version: 2).get() else {
            throw ProtocolError(.unknownCommand, "not a SUB")
        }
        return options
    }

    @Test func versionOneKeepsExactlyOneArgumentAndItsMessages() {
        for line in ["SUB a from=e:1", "SUB a last=1", "SUB a group=g", "SUB a ", "SUB a b", "SUB a..b x", "UNSUB a group=g"] {
            #expect(errorCode(line, version: 1) == .badArguments, "\(line)")
        }
        #expect(refusal("SUB a b", version: 1)?.text == "SUB takes exactly one topic or pattern")
        #expect(refusal("UNSUB a b", version: 1)?.text == "UNSUB takes exactly one topic or pattern")
        #expect(refusal("SUB", version: 1)?.text == "SUB needs one topic or pattern")
        #expect(errorCode("SUB ", version: 1) == .badTopic)
    }

    @Test func aPlainSubIsTheSameInBothVersions() throws {
        for version in [1, 2] {
            #expect(try parse("SUB a.b", version: version).get() == .subscribe(pattern: bytes("a.b"), options: .none))
            #expect(try parse("sub a.>", version: version).get() == .subscribe(pattern: bytes("a.>")))
            #expect(try parse("UNSUB a.*", version: version).get() == .unsubscribe(pattern: bytes("a.*"), group: nil))
            #expect(errorCode("SUB", version: version) == .badArguments)
            #expect(errorCode("SUB ", version: version) == .badTopic)
            #expect(errorCode("SUB a*", version: version) == .badTopic)
        }
    }

    @Test func eachOptionIsParsed() throws {
        #expect(try options("SUB a.b from=k3x9:12") == SubscribeOptions(from: StreamPosition(epoch: "k3x9", seq: 12)))
        #expect(try options("SUB a.b last=5") == SubscribeOptions(last: 5))
        #expect(try options("SUB a.b group=workers") == SubscribeOptions(group: bytes("workers")))
        #expect(try options("SUB a.* group=w-1_X") == SubscribeOptions(group: bytes("w-1_X")))
        #expect(try options("SUB > group=all") == SubscribeOptions(group: bytes("all")))
        #expect(try options("SUB a from=0:0 group=g") == SubscribeOptions(from: StreamPosition(epoch: "0", seq: 0), group: bytes("g")))
        #expect(try options("SUB a group=g last=1") == SubscribeOptions(last: 1, group: bytes("g")))
        #expect(try options("SUB $SYS.stats last=1") == SubscribeOptions(last: 1))
        #expect(try options("SUB a") == .none)
        #expect(SubscribeOptions.none.isEmpty && !SubscribeOptions(last: 1).isEmpty)
    }

    @Test func numbersAreOneToTwentyDigitsBelow2To64() throws {
        #expect(try options("SUB a last=18446744073709551615") == SubscribeOptions(last: UInt64.max))
        #expect(try options("SUB a last=00000000000000000001") == SubscribeOptions(last: 1))
        #expect(try options("SUB a from=e:18446744073709551615") == SubscribeOptions(from: StreamPosition(epoch: "e", seq: UInt64.max)))
        for value in ["0", "", "-1", "+1", "1x", " 1", "18446744073709551616", "99999999999999999999", "000000000000000000001", "0x1", "00"] {
            #expect(errorCode("SUB a last=\(value)", version: 2) == .badArguments, "last=\(value)")
        }
        for seq in ["", "-1", "x", "18446744073709551616", "000000000000000000000", "1:2", "1 "] {
            #expect(errorCode("SUB a from=e:\(seq)", version: 2) == .badArguments, "from=e:\(seq)")
        }
    }

    @Test func anEpochIsOneTo32CharactersOfDigitsAndLowercaseLetters() throws {
        let longest = String(repeating: "z9", count: 16)
        #expect(try options("SUB a from=\(longest):1") == SubscribeOptions(from: StreamPosition(epoch: longest, seq: 1)))
        for from in ["", "abc", ":5", "abc:", "ABC:5", "aBc:5", "ab-c:5", "ab_c:5", "ab.c:5", "\(longest)0:1", "caf\u{e9}:1", "a b:1"] {
            #expect(errorCode("SUB a from=\(from)", version: 2) == .badArguments, "from=\(from)")
        }
    }

    @Test func aGroupIsOneTo64BytesOfLettersDigitsUnderscoreAndDash() throws {
        let longest = String(repeating: "aZ9_-", count: 12) + "abcd"
        #expect(longest.utf8.count == 64)
        #expect(try options("SUB a group=\(longest)") == SubscribeOptions(group: bytes(longest)))
        for name in ["", "\(longest)x", "a.b", "a*", "a=b", "caf\u{e9}", "a:b", "$g", "a\tb"] {
            #expect(errorCode("SUB a group=\(name)", version: 2) == .badArguments, "group=\(name)")
        }
    }

    @Test func anUnknownKeyOrATokenThatIsNotKeyValueIsBadArguments() {
        for line in ["SUB a foo=1", "SUB a FROM=e:1", "SUB a Last=1", "SUB a GROUP=g", "SUB a from", "SUB a last", "SUB a =1",
                     "SUB a lastx=1", "SUB a las=1", "SUB a group", "SUB a x", "SUB a.b c.d"] {
            #expect(errorCode(line, version: 2) == .badArguments, "\(line)")
        }
    }

    @Test func anEmptyOptionTokenIsBadArguments() {
        for line in ["SUB a ", "SUB a  last=1", "SUB a last=1 ", "SUB a last=1  group=g", "SUB a.* "] {
            #expect(errorCode(line, version: 2) == .badArguments, "\(line.debugDescription)")
        }
    }

    @Test func aKeyGivenTwiceIsBadArgumentsEvenWithTheSameValue() {
        for line in ["SUB a last=1 last=2", "SUB a last=1 last=1", "SUB a group=g group=g", "SUB a group=g group=h",
                     "SUB a from=e:1 from=e:1", "SUB a from=e:1 group=g from=f:2"] {
            #expect(errorCode(line, version: 2) == .badArguments, "\(line)")
        }
    }

    @Test func fromAndLastExcludeEachOtherAndNeedAConcreteTopic() {
        for line in ["SUB a from=e:1 last=1", "SUB a last=1 from=e:1", "SUB a.* from=e:1", "SUB a.> last=1", "SUB * last=1",
                     "SUB > from=e:0", "SUB a.*.b last=3 group=g", "SUB a.* group=g from=e:1"] {
            #expect(errorCode(line, version: 2) == .badArguments, "\(line)")
        }
    }

    @Test func theTopicOrPatternIsCheckedBeforeTheOptions() {
        for line in ["SUB a..b from=zz", "SUB  last=1", "SUB a* x", "SUB .a foo", "SUB a.>.b last=0", "SUB \(String(repeating: "a", count: 256)) last=1"] {
            #expect(errorCode(line, version: 2) == .badTopic, "\(line)")
        }
        // Version 1 counts the arguments first.
        #expect(errorCode("SUB a..b from=zz", version: 1) == .badArguments)
        #expect(errorCode("SUB  x", version: 1) == .badArguments)
        #expect(errorCode("SUB  x", version: 2) == .badTopic)
    }

    @Test func unsubTakesOnlyAGroupInVersionTwo() throws {
        #expect(try parse("UNSUB a.* group=workers", version: 2).get() == .unsubscribe(pattern: bytes("a.*"), group: bytes("workers")))
        #expect(try parse("unsub a", version: 2).get() == .unsubscribe(pattern: bytes("a")))
        for line in ["UNSUB a last=1", "UNSUB a from=e:1", "UNSUB a group=g group=h", "UNSUB a group=g x", "UNSUB a ",
                     "UNSUB a group=", "UNSUB a GROUP=g", "UNSUB a group", "UNSUB a x", "UNSUB a group=a.b", "UNSUB a  group=g"] {
            #expect(errorCode(line, version: 2) == .badArguments, "\(line.debugDescription)")
        }
        #expect(refusal("UNSUB a group=g x", version: 2)?.text == "UNSUB takes a topic or pattern and at most group=<name>")
        #expect(refusal("UNSUB a group=g.", version: 2)?.text == "group= takes 1 to 64 bytes of A-Z, a-z, 0-9, '_' and '-'")
        #expect(errorCode("UNSUB a..b group=g", version: 2) == .badTopic)
        #expect(errorCode("UNSUB", version: 2) == .badArguments)
        #expect(errorCode("UNSUB a group=g", version: 1) == .badArguments)
    }

    @Test func everyOtherCommandParsesAlikeInBothVersions() {
        let lines = ["PUB t x", "PUB t ", "PUB t", "PUB  x", "PUB $a x", "PUB t x\r", "PING", "PING a", "PING a b", "QUIT", "QUIT x",
                     "STATS", "STATS a", "STATS a.*", "AUTH s", "AUTH", "FOO", "BPUB t 1", "HELLO 2", "SUB a", "UNSUB a.>"]
        for line in lines {
            #expect(parse(line, version: 1) == parse(line, version: 2), "\(line)")
        }
    }

    @Test func aVersionOtherThanTwoParsesAsVersionOne() {
        for version in [0, 1, 3, -1] {
            #expect(errorCode("SUB a last=1", version: version) == .badArguments)
        }
        #expect(errorCode("SUB a last=1", version: 2) == nil)
    }

    @Test func theTextOfEveryVersionTwoErrorIsNonEmptyWithoutLineBreaks() {
        let lines = ["HELLO", "HELLO 3", "BPUB", "BPUB t x", "SUB a foo=1", "SUB a last=0", "SUB a from=X:1", "SUB a group=.",
                     "SUB a last=1 last=1", "SUB a from=e:1 last=1", "SUB a.* last=1", "SUB a ", "UNSUB a x", "UNSUB a group=."]
        for line in lines {
            guard let error = refusal(line, version: 2) else {
                Issue.record("\(line) parsed")
                continue
            }
            #expect(!error.text.isEmpty)
            #expect(!error.text.utf8.contains(0x0A) && !error.text.utf8.contains(0x0D))
        }
    }
}
