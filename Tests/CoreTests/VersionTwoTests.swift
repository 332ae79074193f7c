// PROTOCOL.md, "Version 2": HELLO, streams, sized MSG frames, SUB options, BPUB, queue groups, linger, in memory.
import Testing
@testable import Broker

/// `OK <epoch> <head>` split, or nil.
private func epochAndHead(_ line: String) -> (epoch: String, head: UInt64)? {
    let parts = line.split(separator: " ")
    guard parts.count == 3, parts[0] == "OK", let head = UInt64(parts[2]) else { return nil }
    return (String(parts[1]), head)
}

/// `OK <n> <epoch>:<seq>` split, or nil.
private func publishReply(_ line: String) -> (receivers: Int, epoch: String, seq: UInt64)? {
    let parts = line.split(separator: " ")
    guard parts.count == 3, parts[0] == "OK", let receivers = Int(parts[1]) else { return nil }
    let position = parts[2].split(separator: ":")
    guard position.count == 2, let seq = UInt64(position[1]) else { return nil }
    return (receivers, String(position[0]), seq)
}

private extension EmbeddedBroker {
    /// A session that said `HELLO 2`.
    func connectV2() -> EmbeddedSession {
        let session = connect()
        #expect(session.exchange("HELLO 2") == ["OK 2"])
        return session
    }
}

@Suite struct VersionTwoTests {
    @Test func helloSwitchesVersionsAndRefusesOthers() {
        let broker = embedded()
        let client = broker.connect()
        #expect(client.exchange("HELLO 2") == ["OK 2"])
        #expect(client.exchange("hello 1") == ["OK 1"])
        #expect(client.exchange("HELLO 3")[0].hasPrefix("ERR unsupported-version "))
        #expect(client.exchange("HELLO 02")[0].hasPrefix("ERR unsupported-version "))
        #expect(client.exchange("HELLO")[0].hasPrefix("ERR bad-arguments "))
        #expect(client.exchange("HELLO ")[0].hasPrefix("ERR bad-arguments "))
        #expect(client.exchange("HELLO 2 2")[0].hasPrefix("ERR bad-arguments "))
        // Still version 1: a PUB reply has no position.
        #expect(client.exchange("PUB t x") == ["OK 0"])
    }

    @Test func pubRepliesCarryTheStreamPositionAndSequencesHaveNoGaps() throws {
        let broker = embedded()
        let client = broker.connectV2()
        let first = try #require(publishReply(client.exchange("PUB t a")[0]))
        let second = try #require(publishReply(client.exchange("PUB t b")[0]))
        #expect(first.receivers == 0 && first.seq == 1)
        #expect(second.epoch == first.epoch && second.seq == 2)
        #expect(first.epoch.allSatisfy { $0.isNumber || ("a"..."z").contains($0) } && (1...32).contains(first.epoch.count))
        let other = try #require(publishReply(client.exchange("PUB u a")[0]))
        #expect(other.epoch != first.epoch && other.seq == 1)
    }

    @Test func subRepliesEpochAndHeadAndMessagesAreSizedFrames() throws {
        let broker = embedded()
        let publisher = broker.connectV2()
        _ = publisher.exchange("PUB t one", "PUB t two")
        let subscriber = broker.connectV2()
        let reply = try #require(epochAndHead(subscriber.exchange("SUB t")[0]))
        #expect(reply.head == 2)
        #expect(subscriber.exchange("SUB t.*") == ["OK"])
        let published = try #require(publishReply(publisher.exchange("PUB t hello world")[0]))
        #expect(published.epoch == reply.epoch && published.seq == 3 && published.receivers == 1)
        #expect(subscriber.take() == "MSG t 3 11\nhello world\n")
        // A repeated SUB replays nothing and answers as for a new one.
        #expect(subscriber.exchange("SUB t") == ["OK \(reply.epoch) 3"])
    }

    @Test func aVersionOneSubscriberOnTheSameTopicKeepsLines() {
        let broker = embedded()
        let old = broker.connect()
        _ = old.exchange("SUB t")
        let new = broker.connectV2()
        _ = new.exchange("SUB t")
        _ = broker.connect().exchange("PUB t x y")
        #expect(old.take() == "MSG t x y\n")
        #expect(new.take() == "MSG t 1 3\nx y\n")
    }

    @Test func fromResumesAfterThePositionWithHeldMessagesThenLive() throws {
        let broker = embedded()
        let publisher = broker.connectV2()
        var epoch = ""
        for n in 1...5 { epoch = try #require(publishReply(publisher.exchange("PUB t m\(n)")[0])).epoch }
        let subscriber = broker.connectV2()
        #expect(subscriber.exchange("SUB t from=\(epoch):2") == ["OK \(epoch) 5", "MSG t 3 2", "m3", "MSG t 4 2", "m4", "MSG t 5 2", "m5"])
        _ = publisher.exchange("PUB t m6")
        #expect(subscriber.takeLines() == ["MSG t 6 2", "m6"])
    }

    @Test func fromBeyondWhatIsHeldCountsTheRestInOneLagged() throws {
        let broker = embedded { $0.capacity = 4 }
        let publisher = broker.connectV2()
        var epoch = ""
        for n in 1...10 { epoch = try #require(publishReply(publisher.exchange("PUB t \(n)")[0])).epoch }
        let subscriber = broker.connectV2()
        let lines = subscriber.exchange("SUB t from=\(epoch):2")
        #expect(lines == ["OK \(epoch) 10", "LAGGED t 4"] + (7...10).flatMap { ["MSG t \($0) \(String($0).count)", "\($0)"] })
    }

    @Test func fromWithAnotherEpochOrAPositionPastTheHeadStartsAtTheHead() throws {
        let broker = embedded()
        let publisher = broker.connectV2()
        let epoch = try #require(publishReply(publisher.exchange("PUB t a")[0])).epoch
        let a = broker.connectV2()
        #expect(a.exchange("SUB t from=zz9:0") == ["OK \(epoch) 1"])
        let b = broker.connectV2()
        #expect(b.exchange("SUB t from=\(epoch):7") == ["OK \(epoch) 1"])
        _ = publisher.exchange("PUB t b")
        #expect(a.takeLines() == ["MSG t 2 1", "b"])
        #expect(b.takeLines() == ["MSG t 2 1", "b"])
    }

    @Test func lastGivesTheNewestHeldMessagesOnly() throws {
        let broker = embedded()
        let publisher = broker.connectV2()
        for n in 1...5 { _ = publisher.exchange("PUB t \(n)") }
        let subscriber = broker.connectV2()
        let lines = subscriber.exchange("SUB t last=2")
        #expect(lines.count == 5 && lines[1...] == ["MSG t 4 1", "4", "MSG t 5 1", "5"])
        let all = broker.connectV2().exchange("SUB t last=100")
        #expect(all.count == 11)
    }

    @Test func optionsAreCheckedAfterTheTopic() {
        let broker = embedded()
        let client = broker.connectV2()
        for bad in ["SUB t x=1", "SUB t last=0", "SUB t last=x", "SUB t last=1 last=2", "SUB t from=a:1 last=1",
                    "SUB t.* last=1", "SUB t.> from=a:1", "SUB t from=A:1", "SUB t from=a", "SUB t group=",
                    "SUB t group=a.b", "SUB t ", "SUB t last=99999999999999999999"] {
            #expect(client.exchange(bad)[0].hasPrefix("ERR bad-arguments "), "\(bad)")
        }
        #expect(client.exchange("SUB a..b last=1")[0].hasPrefix("ERR bad-topic "))
        // Version 1 keeps refusing a second argument.
        let old = broker.connect()
        #expect(old.exchange("SUB t last=1")[0].hasPrefix("ERR bad-arguments "))
        #expect(old.exchange("SUB t")[0] == "OK")
        #expect(old.exchange("UNSUB t group=g")[0].hasPrefix("ERR bad-arguments "))
    }

    @Test func bpubCarriesAnyBytesAndAVersionOneSubscriberIsToldWhatItMissed() {
        let broker = embedded()
        let old = broker.connect()
        _ = old.exchange("SUB t")
        let new = broker.connectV2()
        _ = new.exchange("SUB t")
        let publisher = broker.connect()
        // An LF inside, a CR at the end: no version 1 line can hold them; a CR inside can.
        publisher.send("PUB t before\nBPUB t 5\nab\ncd\nBPUB t 2\nx\r\nBPUB t 3\r\nx\ry\r\nPUB t after\n")
        #expect(publisher.takeLines() == ["OK 2", "OK 2", "OK 2", "OK 2", "OK 2"])
        #expect(old.takeLines() == ["MSG t before", "LAGGED t 2", "MSG t x\ry", "MSG t after"])
        #expect(new.take() == "MSG t 1 6\nbefore\nMSG t 2 5\nab\ncd\nMSG t 3 2\nx\r\nMSG t 4 3\nx\ry\nMSG t 5 5\nafter\n")
    }

    @Test func everyByteValueRoundTripsThroughBpub() {
        let broker = embedded()
        let subscriber = broker.connectV2()
        _ = subscriber.exchange("SUB bin")
        let payload = (0...255).map { UInt8($0) }
        let publisher = broker.connect()
        publisher.send(bytes: Array("BPUB bin 256\n".utf8) + payload + [0x0A] + Array("BPUB bin 0\n\n".utf8))
        #expect(publisher.takeLines() == ["OK 1", "OK 1"])
        let expected = Array("MSG bin 1 256\n".utf8) + payload + [0x0A] + Array("MSG bin 2 0\n\n".utf8)
        #expect(subscriber.takeBytes() == expected)
    }

    @Test func bpubRefusalsTakeThePayloadOffTheWireFirst() {
        let broker = embedded { $0.maxPayloadBytes = 8 }
        let client = broker.connect()
        client.send("BPUB $x 3\nPUB\nBPUB a..b 2\nzz\nBPUB t 9\n123456789\nPING after\n")
        let lines = client.takeLines()
        #expect(lines.count == 4, "\(lines)")
        #expect(lines[0].hasPrefix("ERR reserved-topic "))
        #expect(lines[1].hasPrefix("ERR bad-topic "))
        #expect(lines[2].hasPrefix("ERR payload-too-large "))
        #expect(lines[3] == "PONG after")
    }

    @Test func aBpubWhoseFramingIsLostEndsTheConnection() {
        let broker = embedded()
        let unreadable = broker.connect()
        #expect(unreadable.exchange("BPUB t x").count == 2)
        #expect(unreadable.isClosed)
        let badEnding = broker.connect()
        let subscriber = broker.connect()
        _ = subscriber.exchange("SUB t")
        badEnding.send("BPUB t 2\nabX\nPING\n")
        let lines = badEnding.takeLines()
        #expect(lines.count == 1 && lines[0].hasPrefix("BYE bad-framing "), "\(lines)")
        #expect(badEnding.isClosed)
        #expect(subscriber.takeLines().isEmpty)
    }

    @Test func aQueueGroupDeliversEachMessageToExactlyOneMember() {
        let broker = embedded()
        let members = (0..<3).map { _ in broker.connectV2() }
        for member in members { #expect(member.exchange("SUB jobs group=workers").count == 1) }
        let plain = broker.connect()
        _ = plain.exchange("SUB jobs")
        let publisher = broker.connect()
        var replies: [String] = []
        for n in 0..<30 { replies += publisher.exchange("PUB jobs \(n)") }
        #expect(Set(replies) == ["OK 2"], "a group counts as one subscription")
        var seen: [Int] = []
        for member in members {
            let lines = member.takeLines()
            for index in stride(from: 1, to: lines.count, by: 2) { seen.append(Int(lines[index]) ?? -1) }
        }
        #expect(seen.sorted() == Array(0..<30))
        #expect(plain.takeLines().count == 30)
        // Leaving: UNSUB names the group; the group ends with its last member.
        #expect(members[0].exchange("UNSUB jobs")[0].hasPrefix("ERR not-subscribed "))
        for member in members { #expect(member.exchange("UNSUB jobs group=workers") == ["OK"]) }
        #expect(publisher.exchange("PUB jobs x") == ["OK 1"])
    }

    @Test func aMemberThatStopsReadingLeavesTheWorkToTheOthers() {
        let broker = embedded()
        let stuck = broker.connectV2()
        let busy = broker.connectV2()
        _ = stuck.exchange("SUB w group=g")
        _ = busy.exchange("SUB w group=g")
        stuck.readWindow = 0
        let publisher = broker.connect()
        for n in 0..<2000 { _ = publisher.exchange("PUB w \(n)") }
        stuck.readWindow = nil
        let taken = busy.takeLines().count / 2 + stuck.takeLines().count / 2
        #expect(taken == 2000)
        #expect(busy.takeLines().isEmpty)
    }

    @Test func withLingerZeroAStreamWithoutSubscriptionIsFreedAtOnce() throws {
        let broker = embedded { $0.lingerMs = 0 }
        let client = broker.connectV2()
        let first = try #require(publishReply(client.exchange("PUB t a")[0]))
        let second = try #require(publishReply(client.exchange("PUB t b")[0]))
        #expect(first.seq == 1 && second.seq == 1 && first.epoch != second.epoch)
        #expect(client.exchange("STATS t")[0].hasPrefix("ERR no-such-topic "))
    }

    @Test func aLingeringStreamKeepsItsPositionsUntilItsLingerRunsOut() throws {
        let broker = embedded { $0.lingerMs = 5_000 }
        let client = broker.connectV2()
        let reply = try #require(epochAndHead(client.exchange("SUB t")[0]))
        _ = client.exchange("PUB t a", "UNSUB t")
        _ = client.take()
        #expect(broker.sweepLingering(nowMs: monotonicMilliseconds()) == 0)
        let stats = client.exchange("STATS t")[0]
        #expect(stats.contains(" epoch=\(reply.epoch) head=1"), "\(stats)")
        // A resume finds what was held.
        let back = broker.connectV2()
        #expect(back.exchange("SUB t from=\(reply.epoch):0") == ["OK \(reply.epoch) 1", "MSG t 1 1", "a"])
        _ = back.exchange("UNSUB t")
        #expect(broker.sweepLingering(nowMs: monotonicMilliseconds() + 60_000) == 1)
        #expect(client.exchange("STATS t")[0].hasPrefix("ERR no-such-topic "))
        let again = try #require(epochAndHead(client.exchange("SUB t")[0]))
        #expect(again.epoch != reply.epoch && again.head == 0)
    }

    @Test func streamsThatNeverHadAMessageLingerOnlyUpToALimitOldestFreedFirst() throws {
        let broker = embedded { $0.lingerMs = 60_000 }
        let client = broker.connectV2()
        let limit = LocalTopicStore.emptyLingeringLimit
        // A stream that had a message, and the first empty one, then `limit` more empty ones.
        _ = client.exchange("SUB kept.full", "PUB kept.full x", "UNSUB kept.full")
        let first = try #require(epochAndHead(client.exchange("SUB empty.0")[0]))
        _ = client.exchange("UNSUB empty.0")
        // One that lingers empty, is subscribed to again, and left again later: not freed early
        // while it is subscribed.
        _ = client.exchange("SUB back.again", "UNSUB back.again", "SUB back.again")
        client.send((1...limit).map { "SUB empty.\($0)\nUNSUB empty.\($0)\n" }.joined())
        _ = client.take()
        // The oldest empty ones went; the newest `limit` and the one with a message stay.
        #expect(client.exchange("STATS empty.0")[0].hasPrefix("ERR no-such-topic "))
        #expect(client.exchange("STATS empty.\(limit)")[0].hasPrefix("OK topic="))
        #expect(client.exchange("STATS kept.full")[0].contains(" head=1"))
        #expect(client.exchange("STATS back.again")[0].hasPrefix("OK topic="))
        let topics = client.exchange("STATS")[0].split(separator: " ").first { $0.hasPrefix("topics=") }
        #expect(topics.flatMap { Int($0.dropFirst("topics=".count)) }.map { $0 <= limit + 3 } == true, "\(String(describing: topics))")
        // Coming back with the position of a freed empty stream: a new epoch at head 0, nothing missed.
        let back = try #require(epochAndHead(client.exchange("SUB empty.0 from=\(first.epoch):0")[0]))
        #expect(back.epoch != first.epoch && back.head == 0)
    }

    @Test func maxTopicsFreesALingeringStreamRatherThanRefuse() {
        let broker = embedded { $0.maxTopics = 2 }
        let client = broker.connect()
        _ = client.exchange("PUB a 1", "PUB b 1")
        #expect(client.exchange("PUB c 1") == ["OK 0"])
        #expect(client.exchange("STATS a")[0].hasPrefix("ERR no-such-topic "))
        _ = client.exchange("SUB b", "SUB c")
        #expect(client.exchange("SUB d")[0].hasPrefix("ERR too-many-topics "))
    }
}
