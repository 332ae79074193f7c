// Epochs and queue group names (PROTOCOL.md, version 2): the rules, and the source of unique epochs.
import Testing
import Protocol

@Suite struct EpochTests {
    @Test func anEpochIsOneTo32CharactersOfDigitsAndLowercaseLetters() {
        for epoch in ["0", "a", "z9", String(repeating: "x", count: 32), "0123456789abcdefghijklmnopqrstuv"] {
            #expect(Names.isValidEpoch(bytes(epoch)), "\(epoch)")
        }
        for epoch in ["", String(repeating: "x", count: 33), "A", "aB", "-", "a:b", "a b", "caf\u{e9}", "a.b", "_", "\u{0}"] {
            #expect(!Names.isValidEpoch(bytes(epoch)), "\(epoch.debugDescription)")
        }
        #expect(Names.maxEpochLength == 32)
    }

    @Test func aGroupNameIsOneTo64BytesOfLettersDigitsUnderscoreAndDash() {
        for name in ["a", "Z", "0", "_", "-", "Workers_eu-1", String(repeating: "G", count: 64)] {
            #expect(Names.isValidGroupName(bytes(name)), "\(name)")
        }
        for name in ["", String(repeating: "G", count: 65), "a.b", "a b", "a=b", "a*", ">", "$a", "caf\u{e9}", "a:b", "a/b"] {
            #expect(!Names.isValidGroupName(bytes(name)), "\(name.debugDescription)")
        }
        #expect(Names.maxGroupNameLength == 64)
    }

    @Test func anEpochIsTheSeedInThirteenBase36DigitsThenACounter() {
        var zero = EpochSource(seed: 0)
        #expect(String(decoding: zero.next(), as: UTF8.self) == "00000000000000")
        #expect(String(decoding: zero.next(), as: UTF8.self) == "00000000000001")
        var largest = EpochSource(seed: UInt64.max)
        #expect(String(decoding: largest.next(), as: UTF8.self) == String(UInt64.max, radix: 36) + "0")
        #expect(String(UInt64.max, radix: 36).count == 13)
        var source = EpochSource(seed: 36)
        var tokens: [String] = []
        for _ in 0..<38 { tokens.append(String(decoding: source.next(), as: UTF8.self)) }
        let prefix = "0000000000010"  // 36 in 13 base-36 digits
        #expect(prefix.count == 13)
        #expect(tokens[0] == prefix + "0")
        #expect(tokens[35] == prefix + "z")
        #expect(tokens[36] == prefix + "10")
        #expect(tokens[37] == prefix + "11")
        #expect(source.issued == 38)
        #expect(source.seed == 36)
    }

    @Test func oneSourceNeverRepeatsAndEveryTokenIsAValidEpoch() {
        var source = EpochSource(seed: 0x1234_5678_9ABC_DEF0)
        var seen = Set<[UInt8]>()
        for _ in 0..<100_000 {
            let token = source.next()
            #expect(seen.insert(token).inserted)
            #expect(Names.isValidEpoch(token))
            #expect(token.count >= 14 && token.count <= 26)
        }
        #expect(seen.count == 100_000)
    }

    @Test func tokensOfTheLargestCounterStillFit() {
        // The longest token: 13 digits of seed and 13 of a counter near 2^64.
        #expect(String(UInt64.max, radix: 36).count + 13 <= Names.maxEpochLength)
    }

    @Test func sourcesWithDifferentSeedsShareNoToken() {
        var rng = SeededGenerator(seed: 11)
        var seen = Set<[UInt8]>()
        var count = 0
        for _ in 0..<50 {
            var source = EpochSource(seed: rng.next())
            for _ in 0..<200 {
                #expect(seen.insert(source.next()).inserted)
                count += 1
            }
        }
        // Adjacent seeds too: 35 and 36 give "...0z" + counter and "...10" + counter.
        var a = EpochSource(seed: 35)
        var b = EpochSource(seed: 36)
        let fromA = Set((0..<5000).map { _ in a.next() })
        let fromB = Set((0..<5000).map { _ in b.next() })
        #expect(fromA.isDisjoint(with: fromB))
        #expect(seen.count == count)
    }

    @Test func aSourceIsDeterministicForItsSeed() {
        var first = EpochSource(seed: 99)
        var second = EpochSource(seed: 99)
        for _ in 0..<100 { #expect(first.next() == second.next()) }
    }
}
