// A message's two framings: the version 1 line made at publish, the version 2 frame made once on first need.
import Testing
@testable import Broker

@Suite struct MessageFrameTests {
    private func make(_ topic: String, _ payload: [UInt8], room: Bool) -> Message {
        Array(topic.utf8).withUnsafeBytes { t in
            payload.withUnsafeBytes { Message.make(topic: t, payload: $0, lineSafe: nil, versionTwoRoom: room) }
        }
    }

    private func versionTwoBytes(_ message: Message) -> [UInt8] {
        let (first, rest) = message.versionTwoPieces
        return Array(first) + Array(rest)
    }

    /// Any bytes, LF and a final CR included.
    private func payload(_ size: Int) -> [UInt8] {
        (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 10) }
    }

    @Test(arguments: [0, 1, 511, 512, 513, 4096])
    func theVersionTwoFrameIsMadeOnceTheSameWithOrWithoutRoom(size: Int) {
        let bytes = payload(size)
        let expected = Array("MSG orders.eu 1234567890 \(size)\n".utf8) + bytes + [0x0A]
        for room in [false, true] {
            let message = make("orders.eu", bytes, room: room)
            #expect(message.versionTwoFrameCount == 0, "nothing before it is made")
            #expect(message.versionTwoPieces.first.isEmpty && message.versionTwoPieces.rest.isEmpty)
            message.makeVersionTwoFrame(seq: 1_234_567_890)
            #expect(versionTwoBytes(message) == expected)
            #expect(message.versionTwoFrameCount == expected.count)
            // Whole (one piece) up to the limit; above it, a header, then the version 1 frame's bytes.
            #expect(message.versionTwoPieces.rest.isEmpty == (size <= Message.wholeFrameLimit))
            // Made once: a later call changes nothing.
            message.makeVersionTwoFrame(seq: 7)
            #expect(versionTwoBytes(message) == expected)
            // The version 1 frame is untouched by the room after it.
            #expect(Array(message.bytes) == Array("MSG orders.eu ".utf8) + bytes + [0x0A])
            #expect(message.isLineSafe == (size == 0), "the first byte is an LF")
        }
    }

    /// A 16-byte payload's message fits the 96-byte malloc size class (112 with 64-bit lengths):
    /// the topics workload holds millions of them.
    @Test func theHeaderIsThirtyTwoBytesAndKeepsLengthsAboveSixteenBits() {
        #expect(MemoryLayout<Message.Header>.stride == 32)
        let payload = [UInt8](repeating: 0x61, count: 100_000)
        let message = make("wide", payload, room: true)
        #expect(message.count == 4 + 4 + 1 + payload.count + 1)
        #expect(Array(message.bytes.suffix(3)) == [0x61, 0x61, 0x0A])
        message.makeVersionTwoFrame(seq: 7)
        #expect(versionTwoBytes(message) == Array("MSG wide 7 100000\n".utf8) + payload + [0x0A])
    }

    @Test func theRoomHoldsTheLongestHeader() {
        let message = make("t", payload(512), room: true)
        message.makeVersionTwoFrame(seq: .max)
        #expect(versionTwoBytes(message) == Array("MSG t \(UInt64.max) 512\n".utf8) + payload(512) + [0x0A])
    }

    @Test func theWeightCountsBothFramingsFromTheStart() {
        for size in [0, 16, 512, 513, 70_000] {
            let message = make("orders.eu", payload(size), room: false)
            let before = message.weight
            message.makeVersionTwoFrame(seq: 99)
            #expect(message.weight == before, "the weight does not change once the frame is made")
            let first = message.versionTwoPieces.first.count
            #expect(Int(before) >= message.count + first + 48, "size \(size)")
        }
    }
}
