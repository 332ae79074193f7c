// Matching one topic against one pattern (PROTOCOL.md, "Names").
import Testing
import Protocol

@Suite struct NamesTests {
    @Test func everyByteValueIsJudgedByTheRuleAloneInTopicsOfOneAndThreeLevels() {
        for value in 0...255 {
            let byte = UInt8(value)
            let expected: Names.Violation?
            switch byte {
            case Names.levelSeparator: expected = .emptyLevel
            case Names.singleLevelWildcard, Names.multiLevelWildcard: expected = .wildcardInTopic
            case 0x21...0x7E: expected = nil
            default: expected = .badByte
            }
            #expect([byte].withUnsafeBytes { Names.validateTopic($0) } == expected, "byte \(value)")
            let middle = Array("ab.".utf8) + [byte] + Array(".cd".utf8)
            #expect(middle.withUnsafeBytes { Names.validateTopic($0) } == (byte == Names.levelSeparator ? .emptyLevel : expected),
                    "byte \(value) inside")
        }
    }

    @Test func aPlainPatternMatchesOnlyTheSameTopic() {
        #expect(matches("a.b", "a.b"))
        #expect(!matches("a.b", "a.bc"))
        #expect(!matches("a.b", "a.b.c"))
        #expect(!matches("a.b", "a"))
    }

    @Test func starMatchesExactlyOneLevel() {
        #expect(matches("orders.*.created", "orders.eu.created"))
        #expect(!matches("orders.*.created", "orders.created"))
        #expect(!matches("orders.*.created", "orders.eu.x.created"))
        #expect(matches("*", "a"))
        #expect(!matches("*", "a.b"))
        #expect(matches("*.*", "a.b"))
    }

    @Test func greaterMatchesOneOrMoreTrailingLevels() {
        #expect(matches("orders.>", "orders.eu"))
        #expect(matches("orders.>", "orders.eu.created"))
        #expect(!matches("orders.>", "orders"))
        #expect(matches(">", "a"))
        #expect(matches(">", "a.b.c"))
        #expect(matches("*.>", "a.b"))
        #expect(!matches("*.>", "a"))
    }

    @Test func matchingIsCaseSensitive() {
        #expect(!matches("Orders.>", "orders.eu"))
        #expect(!matches("a.B", "a.b"))
    }

    @Test func aLeadingWildcardNeverMatchesADollarTopic() {
        #expect(!matches(">", "$SYS.lagged"))
        #expect(!matches("*.lagged", "$SYS.lagged"))
        #expect(matches("$SYS.>", "$SYS.lagged"))
        #expect(matches("$SYS.*", "$SYS.stats"))
        #expect(matches("$SYS.lagged", "$SYS.lagged"))
        #expect(matches("a.>", "a.$b"))
    }

    @Test func validationReportsEachViolation() {
        func topic(_ s: String) -> Names.Violation? { bytes(s).withUnsafeBytes { Names.validateTopic($0) } }
        func pattern(_ s: String) -> Names.Violation? { bytes(s).withUnsafeBytes { Names.validatePattern($0) } }
        #expect(topic("") == .empty)
        #expect(topic(String(repeating: "x", count: 256)) == .tooLong)
        #expect(topic("a b") == .badByte)
        #expect(topic("a..b") == .emptyLevel)
        #expect(topic("a.*") == .wildcardInTopic)
        #expect(pattern("a.*b") == .misplacedWildcard)
        #expect(pattern("a.>.b") == .misplacedWildcard)
        #expect(pattern("a.*.>") == nil)
    }
}
