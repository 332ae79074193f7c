// PROTOCOL.md, "Guarantees" and the unasked frames, in memory: fan-out, order, lag accounting, backpressure.
import Testing
@testable import Broker

@Suite struct GuaranteeTests {
    @Test func aConnectionGetsOneMsgPerMatchingSubscriptionAndPatternsSeeTheConcreteTopic() {
        let broker = embedded()
        let client = broker.connect()
        _ = client.exchange("SUB a.b", "SUB a.*")
        #expect(broker.connect().exchange("PUB a.b x") == ["OK 2"])
        #expect(client.takeLines() == ["MSG a.b x", "MSG a.b x"])
    }

    @Test func messagesOnATopicArriveInPublishOrderFromSeveralPublishers() {
        let broker = embedded()
        let subscriber = broker.connect()
        _ = subscriber.exchange("SUB t")
        let first = broker.connect()
        let second = broker.connect()
        for index in 0..<200 { (index % 3 == 0 ? first : second).send("PUB t \(index)\n") }
        #expect(subscriber.takeLines() == (0..<200).map { "MSG t \($0)" })
    }

    @Test func aSlowSubscriberIsToldExactlyWhatItMissedAndDeliveryGoesOnWithTheOldestHeld() {
        let capacity = 8
        let broker = embedded { $0.capacity = capacity }
        let slow = broker.connect()
        _ = slow.exchange("SUB t")
        slow.readWindow = 0
        let publisher = broker.connect()
        let published = 1000
        publisher.send((0..<published).map { "PUB t \($0)\n" }.joined())
        #expect(publisher.takeLines() == Array(repeating: "OK 1", count: published), "a slow subscriber never slows a publisher")
        slow.readWindow = nil
        var received: [Int] = []
        var missed: UInt64 = 0
        var lastWasLag = false
        for line in slow.takeLines() {
            if let count = laggedCount(line) {
                missed += count
                lastWasLag = true
            } else if line.hasPrefix("MSG t "), let value = Int(line.dropFirst(6)) {
                if lastWasLag, let previous = received.last {
                    #expect(value > previous + 1, "a LAGGED stands where messages are missing")
                }
                received.append(value)
                lastWasLag = false
            }
        }
        #expect(UInt64(received.count) + missed == UInt64(published))
        #expect(received == received.sorted())
        #expect(received.last == published - 1, "the newest message is delivered")
        #expect(received.count <= capacity + 1 + 256, "at most the ring plus what the transport already took")
    }

    @Test func receivedPlusLaggedEqualsPublishedForEveryWindowSize() {
        for window in [1, 7, 50, 300, 4096] {
            let broker = embedded { $0.capacity = 16 }
            let subscriber = broker.connect()
            _ = subscriber.exchange("SUB t", "SUB *")
            subscriber.readWindow = window
            let publisher = broker.connect()
            let published = 2000
            var received = 0
            var missed: UInt64 = 0
            var text = ""
            for index in 0..<published {
                publisher.send("PUB t \(index)\n")
                if index % 97 == 0 {
                    text += subscriber.take()
                    subscriber.readWindow = window
                }
            }
            subscriber.readWindow = nil
            text += subscriber.take()
            for line in text.split(separator: "\n") {
                if let count = laggedCount(String(line)) { missed += count } else if line.hasPrefix("MSG ") { received += 1 }
            }
            #expect(UInt64(received) + missed == UInt64(2 * published), "window \(window)")
        }
    }

    @Test func aClientThatDoesNotReadItsRepliesIsPausedAndNoReplyIsDropped() {
        let broker = embedded()
        let client = broker.connect()
        client.readWindow = 0
        let count = 40_000  // ≈ 400 KB of PONGs: past the high-water mark
        client.send((0..<count).map { "PING \($0)\n" }.joined())
        #expect(!client.wantsInput, "input paused while replies back up")
        #expect(client.output.pendingControlBytes <= Session.replyHighWater + 64)
        client.readWindow = nil
        #expect(client.takeLines() == (0..<count).map { "PONG \($0)" })
        #expect(client.wantsInput)
    }

    @Test func theMemoryHeldForATopicStaysWithinItsCapacity() {
        let broker = embedded { $0.capacity = 4 }
        let slow = broker.connect()
        _ = slow.exchange("SUB t")
        slow.readWindow = 0
        let publisher = broker.connect()
        for index in 0..<100 { _ = publisher.exchange("PUB t \(index)") }
        let figures = broker.context.store.statistics(of: Array("t".utf8))
        #expect(figures?.held == 4)
        #expect((figures?.maxLag ?? 0) > 4, "the lag is counted, the messages are not kept")
    }

    @Test func byeIsTheLastFrameBeforeTheBrokerCloses() {
        let broker = embedded(authToken: "secret")
        let client = broker.connect()
        let lines = client.exchange("AUTH wrong", "PING")
        #expect(lines.count == 2 && lines[0].hasPrefix("ERR auth-failed ") && lines[1].hasPrefix("BYE auth-failed "),
                "nothing after BYE, not even the PING's reply: \(lines)")
        #expect(client.closeReason == .authFailed)
    }
}

@Suite struct ExtensionTests {
    @Test func withATokenOnlyAuthAndQuitRunBeforeTheRightAuth() {
        let broker = embedded(authToken: "s3cret")
        let client = broker.connect()
        #expect(client.exchange("PING")[0].hasPrefix("ERR auth-required "))
        #expect(client.exchange("SUB t")[0].hasPrefix("ERR auth-required "))
        #expect(client.exchange("AUTH s3cret", "SUB t", "PING") == ["OK", "OK", "PONG"])
    }

    @Test func statsAnswersServerAndTopicFigures() {
        let broker = embedded()
        let subscriber = broker.connect()
        _ = subscriber.exchange("SUB t")
        _ = broker.connect().exchange("PUB t a", "PUB t b")
        #expect(subscriber.takeLines() == ["MSG t a", "MSG t b"])
        let server = subscriber.exchange("STATS")[0]
        #expect(server.hasPrefix("OK uptime_s="))
        #expect(server.contains(" connections=2 ") && server.contains(" published_total=2 ") && server.contains(" delivered_total=2 "))
        let topic = subscriber.exchange("STATS t")[0]
        #expect(topic.hasPrefix("OK topic=t subscribers=1 held=2 published_total=2 lagging=0 max_lag=0 epoch="), "\(topic)")
        #expect(topic.contains(" head=2 held_bytes="), "\(topic)")
        #expect(subscriber.exchange("STATS nope")[0].hasPrefix("ERR no-such-topic "))
    }

    @Test func maxTopicsRefusesANewTopicWithTooManyTopics() {
        let broker = embedded { $0.maxTopics = 2; $0.lingerMs = 0 }
        let client = broker.connect()
        #expect(client.exchange("SUB a", "SUB b") == ["OK", "OK"])
        #expect(client.exchange("SUB c")[0].hasPrefix("ERR too-many-topics "))
        #expect(client.exchange("PUB a x") == ["OK 1", "MSG a x"])
        #expect(client.exchange("PUB c x") == ["OK 0"], "a topic nobody reads is not created")
    }

    @Test func aLagIsAnnouncedOnSYSLaggedWithTheSessionAndTheCount() {
        let broker = embedded { $0.capacity = 2 }
        let watcher = broker.connect()
        _ = watcher.exchange("SUB $SYS.lagged")
        let slow = broker.connect(peer: "10.0.0.9:5555")
        _ = slow.exchange("SUB t")
        slow.readWindow = 0
        let publisher = broker.connect()
        for index in 0..<10 { _ = publisher.exchange("PUB t \(index)") }
        slow.readWindow = nil
        let lag = slow.takeLines().compactMap(laggedCount).reduce(0, +)
        let events = watcher.takeLines()
        #expect(events.count == 1)
        #expect(events.first == "MSG $SYS.lagged topic=t client=\(slow.id) addr=10.0.0.9:5555 missed=\(lag)")
    }
}
