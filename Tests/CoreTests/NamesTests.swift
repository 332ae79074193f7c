// PROTOCOL.md, "Names": topics, patterns, wildcards and the broker's own `$` topics, in memory.
import Testing
@testable import Broker

@Suite struct NamesInMemoryTests {
    @Test(arguments: ["a..b", ".a", "a.", String(repeating: "x", count: 256), "é"])
    func invalidTopicsAreBadTopic(_ topic: String) {
        let broker = embedded()
        let client = broker.connect()
        let replies = client.exchange("PUB \(topic) x", "SUB \(topic)")
        #expect(replies.count == 2 && replies.allSatisfy { $0.hasPrefix("ERR bad-topic ") }, "\(replies)")
    }

    @Test func aTopicOf255PrintableBytesIsValid() {
        let broker = embedded()
        let client = broker.connect()
        let topic = String(repeating: "~", count: 255)
        #expect(client.exchange("SUB \(topic)", "PUB \(topic) x") == ["OK", "OK 1", "MSG \(topic) x"])
        #expect(client.exchange("SUB \(topic)~")[0].hasPrefix("ERR bad-topic "), "256 bytes")
    }

    @Test func starMatchesOneLevelAndGreaterMatchesOneOrMore() {
        let broker = embedded()
        let star = broker.connect()
        let greater = broker.connect()
        _ = star.exchange("SUB orders.*.created")
        _ = greater.exchange("SUB orders.>")
        let publisher = broker.connect()
        #expect(publisher.exchange("PUB orders.eu.created a", "PUB orders.eu b", "PUB orders c", "PUB orders.eu.x.created d")
                == ["OK 2", "OK 1", "OK 0", "OK 1"])
        #expect(star.takeLines() == ["MSG orders.eu.created a"])
        #expect(greater.takeLines() == ["MSG orders.eu.created a", "MSG orders.eu b", "MSG orders.eu.x.created d"])
    }

    @Test(arguments: ["a*", "a.b*", "a.>.b", ">a", "a.*b"])
    func misplacedWildcardsAreBadTopic(_ pattern: String) {
        let broker = embedded()
        let client = broker.connect()
        #expect(client.exchange("SUB \(pattern)")[0].hasPrefix("ERR bad-topic "))
        #expect(client.exchange("UNSUB \(pattern)")[0].hasPrefix("ERR bad-topic "))
    }

    @Test(arguments: ["a.*", "a.>", "*", ">", "a*b"])
    func wildcardsNeverAppearInAPubTopic(_ topic: String) {
        let broker = embedded()
        let client = broker.connect()
        #expect(client.exchange("PUB \(topic) x")[0].hasPrefix("ERR bad-topic "))
    }

    @Test func topicsAreComparedByteForByte() {
        let broker = embedded()
        let subscriber = broker.connect()
        _ = subscriber.exchange("SUB Orders")
        #expect(broker.connect().exchange("PUB orders x", "PUB Orders y") == ["OK 0", "OK 1"])
        #expect(subscriber.takeLines() == ["MSG Orders y"])
    }

    @Test func aLeadingWildcardDoesNotMatchTheBrokersTopicsButNamingSYSDoes() {
        let broker = embedded { $0.capacity = 2 }
        let leading = broker.connect()
        _ = leading.exchange("SUB >", "SUB *.lagged")
        let system = broker.connect()
        _ = system.exchange("SUB $SYS.>")
        // A lag makes the broker publish `$SYS.lagged`.
        let slow = broker.connect()
        _ = slow.exchange("SUB t")
        slow.readWindow = 0
        let publisher = broker.connect()
        for index in 0..<10 { _ = publisher.exchange("PUB t m\(index)") }
        slow.readWindow = nil
        #expect(slow.takeLines().contains { $0.hasPrefix("LAGGED t ") })
        #expect(leading.takeLines().allSatisfy { $0.hasPrefix("MSG t ") }, "no $SYS event for leading wildcards")
        let events = system.takeLines()
        #expect(!events.isEmpty && events.allSatisfy { $0.hasPrefix("MSG $SYS.lagged topic=t client=") })
    }

    @Test func aClientPubToADollarTopicIsReservedTopicAfterTheOtherRules() {
        let broker = embedded()
        let client = broker.connect()
        #expect(client.exchange("PUB $SYS.stats x")[0].hasPrefix("ERR reserved-topic "))
        #expect(client.exchange("PUB $x y")[0].hasPrefix("ERR reserved-topic "))
        #expect(client.exchange("PUB $x.* z")[0].hasPrefix("ERR bad-topic "))
    }
}
