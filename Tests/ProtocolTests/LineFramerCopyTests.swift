// A framer is a value: a copy made in the middle of a payload goes on by itself.
import Testing
import Protocol

@Suite struct LineFramerCopyTests {
    @Test func aCopyMadeInTheMiddleOfAPayloadGathersItsOwnBytes() {
        var original = ScriptedFramer()
        original.feed(Array("R 10\n1234".utf8))
        var copy = original
        original.feed(Array("567890\n".utf8))
        copy.feed(Array("abcdef\r\n".utf8))
        #expect(original.events == [.line("R 10"), .payload(Array("1234567890".utf8))])
        #expect(copy.events == [.line("R 10"), .payload(Array("1234abcdef".utf8))])
        #expect(original.framer.heldByteCount == 0 && copy.framer.heldByteCount == 0)
    }

    @Test func aCopyMadeBeforeAPayloadIsNotChangedByTheOriginalsPayload() {
        var original = ScriptedFramer()
        original.feed(Array("R 3\n12".utf8))
        let before = original.framer
        original.feed(Array("3\nnext\n".utf8))
        #expect(original.events == [.line("R 3"), .payload(Array("123".utf8)), .line("next")])
        #expect(!original.framer.isInPayload)
        #expect(before.isInPayload && before.heldByteCount == 2)
    }

    @Test func aCopyOfABrokenFramerStaysBrokenAndTheOriginalsResetLeavesItSo() {
        var original = ScriptedFramer()
        original.feed(Array("S 2\nxyZ".utf8))
        let broken = original.framer
        original.framer.reset()
        #expect(original.events == [.line("S 2"), .badFraming])
        #expect(broken.isBroken && !original.framer.isBroken)
    }
}
