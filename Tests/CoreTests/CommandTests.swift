// PROTOCOL.md, "Client to broker": every command's reply and argument rule, in memory.
import Testing
@testable import Broker

@Suite struct CommandTests {
    @Test func pubAnswersTheMatchingSubscriptionsCountingThePublishersOwnAndLaggingOnes() {
        let broker = embedded { $0.capacity = 2 }
        let lagging = broker.connect()
        _ = lagging.exchange("SUB t")
        lagging.readWindow = 0
        let publisher = broker.connect()
        _ = publisher.exchange("SUB t", "SUB *")
        for _ in 0..<5 { #expect(publisher.exchange("PUB t x").first == "OK 3") }
    }

    @Test func statsCountsThePublishesOfTheSameReadBeforeIt() {
        // Publishes are added to the server's count once per read: a STATS in that read
        // still counts those before it, for the server and for the topic.
        let broker = embedded()
        _ = broker.connect().exchange("SUB t")
        let client = broker.connect()
        let replies = client.exchange("PUB t a", "PUB t b", "STATS", "STATS t", "PUB t c")
        #expect(replies.count == 5)
        #expect(replies[2].split(separator: " ").contains("published_total=2"), "\(replies[2])")
        #expect(replies[3].split(separator: " ").contains("published_total=2"), "\(replies[3])")
        #expect(client.exchange("STATS")[0].split(separator: " ").contains("published_total=3"))
    }

    @Test func subIsActiveBeforeItsReplyAndARepeatedSubIsANoOpAnsweredOK() {
        let broker = embedded()
        let subscriber = broker.connect()
        subscriber.send("SUB t\nSUB t\n")
        #expect(subscriber.takeLines() == ["OK", "OK"])
        #expect(broker.connect().exchange("PUB t x") == ["OK 1"])
        #expect(subscriber.takeLines() == ["MSG t x"])
    }

    @Test func unsubEndsExactlyThatStringAndNothingForItIsWrittenAfterTheReply() {
        let broker = embedded()
        let subscriber = broker.connect()
        _ = subscriber.exchange("SUB a.*", "SUB a.b")
        subscriber.readWindow = 0
        let publisher = broker.connect()
        // a.c reaches only the pattern, a.b both subscriptions.
        _ = publisher.exchange("PUB a.c 1", "PUB a.b 2", "PUB a.c 3")
        subscriber.send("UNSUB a.*\n")
        subscriber.readWindow = nil
        _ = publisher.exchange("PUB a.c 4", "PUB a.b 5")
        let lines = subscriber.takeLines()
        guard let reply = lines.firstIndex(of: "OK") else {
            Issue.record("no UNSUB reply in \(lines)")
            return
        }
        let after = lines[(reply + 1)...]
        #expect(!after.contains { $0.hasPrefix("MSG a.c ") || $0.hasPrefix("LAGGED a.c ") }, "\(lines)")
        #expect(after.last == "MSG a.b 5", "the other subscription goes on: \(lines)")
        #expect(publisher.exchange("PUB a.c 6") == ["OK 0"])
    }

    @Test func unsubOfAStringWithoutASubscriptionIsNotSubscribed() {
        let broker = embedded()
        let client = broker.connect()
        _ = client.exchange("SUB a.*")
        #expect(client.exchange("UNSUB a.b")[0].hasPrefix("ERR not-subscribed "))
        #expect(client.exchange("UNSUB a.*") == ["OK"])
        #expect(client.exchange("UNSUB a.*")[0].hasPrefix("ERR not-subscribed "))
    }

    @Test func pingAnswersPongWithItsTokenAndIsABarrierForReplies() {
        let broker = embedded()
        let client = broker.connect()
        #expect(client.exchange("PING", "PING abc", "PING ") == ["PONG", "PONG abc", "PONG"])
        client.send((0..<500).map { "PING \($0)\n" }.joined())
        #expect(client.takeLines() == (0..<500).map { "PONG \($0)" })
    }

    @Test func quitIsAnsweredOKAndNothingAfterItRuns() {
        let broker = embedded()
        let subscriber = broker.connect()
        _ = subscriber.exchange("SUB t")
        let client = broker.connect()
        client.send("QUIT\nPUB t never\n")
        #expect(client.takeLines() == ["OK"])
        #expect(client.closeReason == .quit)
        #expect(subscriber.takeLines().isEmpty)
    }

    @Test func thePayloadIsEverythingAfterTheTopicsSpaceAndMayBeEmpty() {
        let broker = embedded()
        let subscriber = broker.connect()
        _ = subscriber.exchange("SUB t")
        #expect(broker.connect().exchange("PUB t  two  spaces ", "PUB t ") == ["OK 1", "OK 1"])
        #expect(subscriber.takeLines() == ["MSG t  two  spaces ", "MSG t "])
    }

    @Test func argumentErrorsFollowTheTable() {
        let broker = embedded()
        let client = broker.connect()
        let cases: [(String, String)] = [
            ("PUB t x\r\r", "ERR bad-arguments "),  // a payload ending with CR
            ("PUB t", "ERR bad-arguments "), ("PUB ", "ERR bad-arguments "), ("PUB  x", "ERR bad-topic "),
            ("SUB a b", "ERR bad-arguments "), ("SUB a ", "ERR bad-arguments "), ("PING a b", "ERR bad-arguments "),
            ("SUB ", "ERR bad-topic "), ("SUB", "ERR bad-arguments "), ("UNSUB", "ERR bad-arguments "),
            ("QUIT now", "ERR bad-arguments "), ("FROB", "ERR unknown-command "), ("FROB a b c", "ERR unknown-command "),
            ("PUBLISH t x", "ERR unknown-command "),
        ]
        for (line, prefix) in cases {
            let reply = client.exchange(line)
            #expect(reply.count == 1 && reply[0].hasPrefix(prefix), "\(line.debugDescription) -> \(reply)")
            #expect((reply.first?.count ?? 0) > prefix.count, "the ERR text is never empty")
        }
        #expect(!client.isClosed)
    }

    @Test func tooManySubscriptionsStartsAtTheLimitPlusOneAndADuplicateIsStillOK() {
        let broker = embedded { $0.maxSubscriptionsPerConnection = 2 }
        let client = broker.connect()
        #expect(client.exchange("SUB a", "SUB b") == ["OK", "OK"])
        #expect(client.exchange("SUB c")[0].hasPrefix("ERR too-many-subscriptions "))
        #expect(client.exchange("SUB a") == ["OK"])
        #expect(client.exchange("UNSUB a", "SUB c") == ["OK", "OK"])
    }

    @Test func everyCommandGetsExactlyOneReplyInOrder() {
        let broker = embedded()
        let client = broker.connect()
        let lines = ["SUB x", "PUB y 1", "BAD", "PING 1", "UNSUB x", "UNSUB x", "SUB x.*", "PING 2"]
        let replies = client.exchange(lines[0], lines[1], lines[2], lines[3], lines[4], lines[5], lines[6], lines[7])
        #expect(replies.count == lines.count)
        #expect(replies[3] == "PONG 1" && replies[7] == "PONG 2")
    }
}
