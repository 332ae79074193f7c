// BrokerClient against a scripted in-process peer: replies, errors, pipelining, unasked frames, BYE, timeouts.
import BrokerClient
import Protocol
import Testing

@Suite struct BrokerClientBehaviour {
    private func connect(_ broker: ScriptedBroker) throws -> BrokerConnection {
        try BrokerConnection(to: Endpoint(host: "127.0.0.1", port: broker.port), timeout: .seconds(5))
    }

    @Test func publishReturnsTheCountOfTheOKReply() throws {
        let broker = try ScriptedBroker { _ in Array("OK 3\n".utf8) }
        let connection = try connect(broker)
        #expect(try connection.publish(topic: "a.b", "hello world") == 3)
        #expect(broker.received == ["PUB a.b hello world"])
    }

    @Test func anErrReplyIsThrownAsRefusedWithItsText() throws {
        let broker = try ScriptedBroker { _ in Array("ERR bad-topic topic has an empty level\n".utf8) }
        let connection = try connect(broker)
        #expect(throws: BrokerClientError.refused(ProtocolError(.badTopic, "topic has an empty level"))) {
            try connection.publish(topic: "a..b", "x")
        }
    }

    @Test func unaskedFramesDuringARequestAreKeptInOrder() throws {
        let broker = try ScriptedBroker { _ in Array("MSG t one\nLAGGED t 5\nMSG t two\nOK\n".utf8) }
        let connection = try connect(broker)
        try connection.subscribe("t")
        #expect(try connection.nextEvent() == .message(Message(topic: "t", payload: Array("one".utf8))))
        #expect(try connection.nextEvent() == .lagged(topic: "t", count: 5))
        #expect(try connection.nextEvent() == .message(Message(topic: "t", payload: Array("two".utf8))))
    }

    @Test func byeIsAnEventAndThenTheSequenceEnds() throws {
        let broker = try ScriptedBroker(closeAfterReply: true) { _ in Array("OK\nBYE shutting-down broker is stopping\n".utf8) }
        let connection = try connect(broker)
        try connection.subscribe("t")
        #expect(try connection.nextEvent() == .bye(code: .shuttingDown, text: "broker is stopping"))
        #expect(try connection.nextEvent() == nil)
    }

    @Test func pipelinedRepliesAreMatchedInOrder() throws {
        // Every third message is refused; the rest reach 2 subscribers.
        let broker = try ScriptedBroker { line in
            let number = Int(line.split(separator: " ").last ?? "") ?? 0
            return Array((number % 3 == 0 ? "ERR bad-arguments no\n" : "OK 2\n").utf8)
        }
        let connection = try connect(broker)
        let total = 20_000
        var next = 0
        var outcomes: [(UInt64, PublishReply)] = []
        try connection.publishPipelined(topic: Array("p".utf8), maxInFlight: 1000, produce: { batch in
            while next < total && !batch.isFull {
                batch.append(payload: Array(String(next).utf8))
                next += 1
            }
            return next < total
        }, onReply: { index, reply in outcomes.append((index, reply)) })
        #expect(outcomes.count == total)
        #expect(outcomes.map(\.0) == (0..<UInt64(total)).map { $0 })
        #expect(outcomes.allSatisfy { index, reply in
            index % 3 == 0 ? reply == .refused(ProtocolError(.badArguments, "no")) : reply == .delivered(subscribers: 2)
        })
    }

    @Test func aClosedConnectionDuringAPipelineIsAnError() throws {
        let broker = try ScriptedBroker { line in line.hasSuffix(" 5") ? nil : Array("OK 0\n".utf8) }
        let connection = try connect(broker)
        var next = 0
        #expect(throws: BrokerClientError.closed) {
            try connection.publishPipelined(topic: Array("p".utf8), produce: { batch in
                while next < 10 { batch.append(payload: Array(String(next).utf8)); next += 1 }
                return false
            }, onReply: { _, _ in })
        }
    }

    @Test func pingWithoutAnswerTimesOut() throws {
        let broker = try ScriptedBroker { _ in [] }
        let connection = try connect(broker)
        #expect(throws: BrokerClientError.timedOut("waiting for the broker's reply")) {
            try connection.ping(timeout: .milliseconds(100))
        }
    }

    @Test func pingMeasuresTheRoundTrip() throws {
        let broker = try ScriptedBroker { _ in Array("PONG\n".utf8) }
        #expect(try connect(broker).ping(timeout: .seconds(5)) > .zero)
    }

    @Test func aLineThatIsNotAFrameIsAProtocolViolation() throws {
        let broker = try ScriptedBroker { _ in Array("HELLO there\n".utf8) }
        let connection = try connect(broker)
        #expect(throws: BrokerClientError.protocolViolation("unknown frame: HELLO there")) {
            try connection.subscribe("t")
        }
    }

    @Test func refusedConnectionCarriesTheSystemText() throws {
        let port = try closedPort()
        #expect(throws: BrokerClientError.cannotConnect(address: "127.0.0.1:\(port)", reason: "Connection refused")) {
            try BrokerConnection(to: Endpoint(host: "127.0.0.1", port: port))
        }
        let error = BrokerClientError.cannotConnect(address: "127.0.0.1:7400", reason: "Connection refused")
        #expect(error.description == "cannot connect to 127.0.0.1:7400: Connection refused")
    }

    @Test func asyncSubscriptionDeliversEventsAndEndsAtBye() async throws {
        let broker = try ScriptedBroker(closeAfterReply: true) { line in
            line == "SUB a.>" ? Array("OK\nMSG a.b 1\nLAGGED a.b 2\nMSG a.c 3\nBYE shutting-down bye\n".utf8) : nil
        }
        let subscription = try BrokerConnection.subscribe(to: ["a.>"], at: Endpoint(host: "127.0.0.1", port: broker.port))
        var events: [BrokerEvent] = []
        for try await event in subscription { events.append(event) }
        #expect(events == [
            .message(Message(topic: "a.b", payload: Array("1".utf8))),
            .lagged(topic: "a.b", count: 2),
            .message(Message(topic: "a.c", payload: Array("3".utf8))),
            .bye(code: .shuttingDown, text: "bye"),
        ])
    }
}
