// BrokerClient in version 2 against a scripted peer: HELLO, sized frames, the sequence check, from=, BPUB, resuming.
import BrokerClient
import Protocol
import Testing

/// A version 2 `MSG` frame with its payload.
private func msg(_ topic: String, _ seq: UInt64, _ payload: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    WireEncoder.appendMsgV2(topic: Array(topic.utf8), seq: seq, payload: payload, to: &out)
    return out
}

private func msg(_ topic: String, _ seq: UInt64, _ text: String) -> [UInt8] { msg(topic, seq, Array(text.utf8)) }

/// A peer that speaks version 2: `HELLO 2` is answered `OK 2`, every other line by `script`.
private func peer(_ script: @escaping @Sendable (String) -> [UInt8]) throws -> ScriptedBroker {
    try ScriptedBroker(scriptsHello: true) { line in line == "HELLO 2" ? Array("OK 2\n".utf8) : script(line) }
}

private func connect(_ broker: ScriptedBroker, version: ProtocolVersion = .v2) throws -> BrokerConnection {
    try BrokerConnection(to: Endpoint(host: "127.0.0.1", port: broker.port), timeout: .seconds(5), version: version)
}

private func message(_ topic: String, _ text: String, seq: UInt64?, epoch: String?) -> BrokerEvent {
    .message(Message(topic: topic, payload: Array(text.utf8), seq: seq, epoch: epoch))
}

@Suite struct BrokerClientVersion2 {
    @Test func helloSwitchesToVersion2AndMessagesCarryTheirSequences() throws {
        let binary: [UInt8] = [0x61, 0x0A, 0x62, 0x0D, 0x0A, 0x00, 0xFF]
        let broker = try peer { _ in Array("OK e1 4\n".utf8) + msg("t", 5, "hello") + msg("t", 6, binary) }
        let connection = try connect(broker)
        #expect(connection.version == .v2)
        #expect(try connection.subscribe("t") == StreamPosition(epoch: "e1", seq: 4))
        #expect(try connection.nextEvent() == message("t", "hello", seq: 5, epoch: "e1"))
        #expect(try connection.nextEvent() == .message(Message(topic: "t", payload: binary, seq: 6, epoch: "e1")))
        #expect(broker.received == ["HELLO 2", "SUB t"])
    }

    @Test func theFramesAfterTheOKOfHelloAreReadInVersion2EvenWithinOneRead() throws {
        let broker = try ScriptedBroker(scriptsHello: true) { line in
            line == "SUB t" ? Array("OK\n".utf8) : Array("MSG t one\nOK 2\n".utf8) + msg("t", 1, "two")
        }
        let connection = try connect(broker, version: .v1)
        try connection.subscribe("t")
        try connection.hello(.v2)
        #expect(connection.version == .v2)
        #expect(try connection.nextEvent() == message("t", "one", seq: nil, epoch: nil))
        #expect(try connection.nextEvent() == message("t", "two", seq: 1, epoch: nil))
    }

    @Test func aBrokerThatKnowsOnlyVersion1RefusesHelloAndTheConnectionStaysInVersion1() throws {
        let broker = try ScriptedBroker { _ in Array("OK 1\n".utf8) }
        let connection = try connect(broker, version: .v1)
        #expect(throws: BrokerClientError.refused(ProtocolError(.unknownCommand, "unknown command 'HELLO'"))) {
            try connection.hello(.v2)
        }
        #expect(connection.version == .v1)
        #expect(try connection.publish(topic: "t", "x") == 1)
    }

    @Test func aGapNoLaggedReportedIsHandedOutAsLag() throws {
        let broker = try peer { _ in Array("OK e1 0\n".utf8) + msg("t", 1, "a") + Array("LAGGED t 1\n".utf8) + msg("t", 3, "c") + msg("t", 7, "g") }
        let connection = try connect(broker)
        try connection.subscribe("t")
        var events: [BrokerEvent] = []
        for _ in 0..<5 { events += [try #require(try connection.nextEvent())] }
        #expect(events == [
            message("t", "a", seq: 1, epoch: "e1"),
            .lagged(topic: "t", count: 1),
            message("t", "c", seq: 3, epoch: "e1"),
            .lagged(topic: "t", count: 3),
            message("t", "g", seq: 7, epoch: "e1"),
        ])
    }

    @Test func aFrameLagCannotExplainIsAProtocolViolation() throws {
        let broker = try peer { _ in Array("OK e1 0\n".utf8) + msg("t", 1, "a") + Array("LAGGED t 5\n".utf8) + msg("t", 3, "c") }
        let connection = try connect(broker)
        try connection.subscribe("t")
        #expect(try connection.nextEvent() == message("t", "a", seq: 1, epoch: "e1"))
        _ = try connection.nextEvent()  // the LAGGED
        #expect(throws: BrokerClientError.protocolViolation("LAGGED counted 5 messages but 1 are missing before 3 on t")) {
            try connection.nextEvent()
        }
    }

    @Test func aFromTheBrokerDidNotHonorIsAPositionLostEventBeforeTheMessages() throws {
        let broker = try peer { _ in Array("OK e1 3\n".utf8) + msg("t", 4, "d") }
        let connection = try connect(broker)
        let head = try connection.subscribe("t", options: SubscribeOptions(from: StreamPosition(epoch: "e0", seq: 7)))
        #expect(head == StreamPosition(epoch: "e1", seq: 3))
        #expect(try connection.nextEvent() == .positionLost(topic: "t", previous: StreamPosition(epoch: "e0", seq: 7),
                                                          current: StreamPosition(epoch: "e1", seq: 3)))
        #expect(try connection.nextEvent() == message("t", "d", seq: 4, epoch: "e1"))
        #expect(broker.received == ["HELLO 2", "SUB t from=e0:7"])
    }

    @Test func aHonoredFromIsCheckedFromItsSequence() throws {
        let broker = try peer { _ in Array("OK e1 9\nLAGGED t 4\n".utf8) + msg("t", 7, "g") }
        let connection = try connect(broker)
        try connection.subscribe("t", options: SubscribeOptions(from: StreamPosition(epoch: "e1", seq: 2)))
        #expect(try connection.nextEvent() == .lagged(topic: "t", count: 4))
        #expect(try connection.nextEvent() == message("t", "g", seq: 7, epoch: "e1"))
    }

    @Test func publishBinarySendsBpubAndReturnsThePosition() throws {
        let broker = try peer { line in line.hasPrefix("BPUB ") ? Array("OK 2 e1:9\n".utf8) : [] }
        let connection = try connect(broker)
        let receipt = try connection.publishBinary(topic: "t", payload: Array("a\nb\r\nc".utf8))
        #expect(receipt == PublishReceipt(subscribers: 2, position: StreamPosition(epoch: "e1", seq: 9)))
        #expect(broker.received == ["HELLO 2", "BPUB t 6", "a", "b\r", "c"])
    }

    @Test func publishReadsTheVersion2Reply() throws {
        let broker = try peer { _ in Array("OK 3 e1:12\n".utf8) }
        #expect(try connect(broker).publish(topic: "t", "x") == 3)
    }

    @Test func receiveLendsWhatNextEventWouldGive() throws {
        let frames = Array("OK e1 0\n".utf8) + msg("t", 1, "a") + msg("t", 3, "c") + Array("BYE shutting-down bye\n".utf8)
        let broker = try peer { _ in frames }
        let connection = try connect(broker)
        try connection.subscribe("t")
        var events: [BrokerEvent] = []
        let stopped = try connection.receive { event in
            switch event {
            case let .message(view): events.append(.message(view.message))
            case let .event(event): events.append(event)
            }
            return events.count < 3
        }
        #expect(stopped)
        #expect(events == [message("t", "a", seq: 1, epoch: "e1"), .lagged(topic: "t", count: 1), message("t", "c", seq: 3, epoch: "e1")])
        // What came after the stop is kept for the next call.
        #expect(try connection.nextEvent() == .bye(code: .shuttingDown, text: "bye"))
    }

    @Test func resumeStateHoldsEachConcreteTopicsLastPositionAndResumeAsksFromThere() throws {
        let broker = try peer { line in
            switch line {
            case "SUB t": Array("OK e1 4\n".utf8) + msg("t", 5, "e") + msg("t", 6, "f")
            case "SUB a.*": Array("OK\n".utf8)
            case "SUB jobs group=w": Array("OK e2 0\n".utf8)
            default: Array("OK e3 10\n".utf8)  // SUB u last=3
            }
        }
        let connection = try connect(broker)
        try connection.subscribe("t")
        try connection.subscribe("a.*")
        try connection.subscribe("jobs", options: SubscribeOptions(group: Array("w".utf8)))
        try connection.subscribe("u", options: SubscribeOptions(last: 3))
        #expect(try connection.nextEvent() == message("t", "e", seq: 5, epoch: "e1"))
        let state = connection.resumeState()
        #expect(state.version == .v2)
        #expect(state.subscriptions == [
            SubscriptionRecord(pattern: "t", position: StreamPosition(epoch: "e1", seq: 6)),
            SubscriptionRecord(pattern: "a.*"),
            SubscriptionRecord(pattern: "jobs", group: "w"),
            SubscriptionRecord(pattern: "u", position: StreamPosition(epoch: "e3", seq: 7)),
        ])
        #expect(state.undelivered == [message("t", "f", seq: 6, epoch: "e1")])

        let next = try peer { line in line.hasPrefix("SUB a.") ? Array("OK\n".utf8) : Array("OK e1 6\n".utf8) }
        let resumed = try connect(next, version: .v1)
        try resumed.resume(state)
        #expect(resumed.version == .v2)
        #expect(next.received == ["HELLO 2", "SUB t from=e1:6", "SUB a.*", "SUB jobs group=w", "SUB u from=e3:7"])
        #expect(try resumed.nextEvent() == message("t", "f", seq: 6, epoch: "e1"))
    }
}
