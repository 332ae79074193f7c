// PROTOCOL.md, "Transport and framing", against the command core in memory.
import Testing
@testable import Broker

@Suite struct FramingTests {
    @Test func aCRBeforeTheLFIsDroppedSoCRLFClientsWork() {
        let broker = embedded()
        let client = broker.connect()
        #expect(client.exchange("PING a\r") == ["PONG a"])
    }

    @Test func theBrokerEndsEveryFrameWithOneLF() {
        let broker = embedded()
        let client = broker.connect()
        client.send("PING x\r\nSUB t\r\n")
        #expect(client.take() == "PONG x\nOK\n")
    }

    @Test func verbsAreCaseInsensitiveOnInputAndWrittenInUpperCase() {
        let broker = embedded()
        let subscriber = broker.connect()
        #expect(subscriber.exchange("sub t") == ["OK"])
        #expect(broker.connect().exchange("Pub t hi") == ["OK 1"])
        #expect(subscriber.takeLines() == ["MSG t hi"])
        #expect(subscriber.exchange("pInG") == ["PONG"])
    }

    @Test func aLineLongerThanTheMaximumGetsOneErrAndTheConnectionStaysUsable() {
        let broker = embedded { $0.maxLineBytes = 16 }
        let client = broker.connect()
        client.send("PUB t " + String(repeating: "x", count: 100))
        let early = client.takeLines()
        #expect(early.count == 1 && early[0].hasPrefix("ERR line-too-long "), "answered before the LF arrives: \(early)")
        client.send(String(repeating: "y", count: 50) + "\nPING after\n")
        #expect(client.takeLines() == ["PONG after"])
    }

    @Test func aLineOfExactlyTheMaximumIsValidWithLFOrCRLF() {
        let broker = embedded { $0.maxLineBytes = 16 }
        let client = broker.connect()
        let line = "PUB t " + String(repeating: "p", count: 10)  // 16 bytes
        #expect(client.exchange(line) == ["OK 0"])
        #expect(client.exchange(line + "\r") == ["OK 0"])
        #expect(client.exchange(line + "p")[0].hasPrefix("ERR line-too-long "))
    }

    @Test func theLineTooLongErrIsInOrderWithTheOtherReplies() {
        let broker = embedded { $0.maxLineBytes = 8 }
        let client = broker.connect()
        #expect(client.exchange("PING 1", "PING 123456789", "PING 2").map { $0.prefix(17) } == ["PONG 1", "ERR line-too-long", "PONG 2"])
    }

    @Test func anEmptyLineIsIgnoredAndGetsNoReply() {
        let broker = embedded()
        let client = broker.connect()
        #expect(client.exchange("", "\r", "PING") == ["PONG"])
    }

    @Test func atEOFEveryCompleteLineRunsItsReplyIsWrittenThenTheSessionCloses() {
        let broker = embedded()
        let subscriber = broker.connect()
        _ = subscriber.exchange("SUB t")
        let client = broker.connect()
        client.send("PUB t one\nPING end\nPUB t partial-never-ends")
        client.sendEOF()
        #expect(client.takeLines() == ["OK 1", "PONG end"])
        #expect(client.closeReason == .peerClosed)
        #expect(subscriber.takeLines() == ["MSG t one"], "the trailing partial line is discarded")
    }

    @Test func splitAtEveryPositionTheRepliesAndDeliveriesAreTheSame() {
        let input = Array("PUB a.b x y\r\nPING t\nBAD\nPUB a.b z\n".utf8)
        for split in 0...input.count {
            let broker = embedded()
            let subscriber = broker.connect()
            _ = subscriber.exchange("SUB a.b")
            let client = broker.connect()
            client.send(bytes: Array(input[..<split]))
            client.send(bytes: Array(input[split...]))
            let replies = client.takeLines()
            #expect(replies.count == 4 && replies[0] == "OK 1" && replies[1] == "PONG t"
                    && replies[2].hasPrefix("ERR unknown-command ") && replies[3] == "OK 1", "split at \(split): \(replies)")
            #expect(subscriber.takeLines() == ["MSG a.b x y", "MSG a.b z"], "split at \(split)")
        }
    }
}
