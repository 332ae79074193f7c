// Hostile clients against the built broker-server, each beside a calm publisher/subscriber pair that must lose nothing.
import Glibc
import Testing

@Suite(.serialized) struct HostileClientTests {
    @Test func aPartialLineThatNeverEndsIsClosedWithByeIdleTimeoutAndLogged() throws {
        let broker = try Hostile.startBroker()
        try expectDescriptorsReturn(broker) {
            try besideCalmPair(broker.port, "slowloris") { try Hostile.slowloris(broker) }
        }
    }

    @Test func aSubscriberThatNeverReadsKeepsTheBrokersMemoryBoundedAndSlowsNoOne() throws {
        let broker = try Hostile.startBroker()
        try expectDescriptorsReturn(broker) {
            try besideCalmPair(broker.port, "nonreader") { try Hostile.nonReader(broker) }
        }
    }

    @Test func aClientThatNeverReadsItsRepliesIsBackpressuredNotBuffered() throws {
        let broker = try Hostile.startBroker()
        try expectDescriptorsReturn(broker) {
            try besideCalmPair(broker.port, "hoarder") { try Hostile.replyHoarder(broker) }
        }
    }

    @Test func tenThousandConnectDisconnectCyclesLeaveNoDescriptorBehind() throws {
        let broker = try Hostile.startBroker()
        try expectDescriptorsReturn(broker) {
            try besideCalmPair(broker.port, "churn") { try Hostile.connectionChurn(broker) }
        }
    }

    @Test func aClientThatShutsItsWriteSideGetsEveryReplyThenEndOfFile() throws {
        let broker = try Hostile.startBroker()
        try expectDescriptorsReturn(broker) {
            try besideCalmPair(broker.port, "halfwrite") { try Hostile.halfClosedWriter(broker) }
        }
    }

    @Test func aClientThatShutsItsReadSideIsServedAndClosedWhenItGoes() throws {
        let broker = try Hostile.startBroker()
        try expectDescriptorsReturn(broker) {
            try besideCalmPair(broker.port, "halfread") { try Hostile.halfClosedReader(broker) }
        }
    }

    @Test func aResetInTheMiddleOfAFramePublishesNothingAndClosesTheConnection() throws {
        let broker = try Hostile.startBroker()
        try expectDescriptorsReturn(broker) {
            try besideCalmPair(broker.port, "reset") { try Hostile.resetInTheMiddleOfAFrame(broker, calmTopic: "calm.reset") }
        }
    }

    @Test func megabyteLinesGetOneLineTooLongEachAndDoNotGrowMemory() throws {
        let broker = try Hostile.startBroker()
        try expectDescriptorsReturn(broker) {
            try besideCalmPair(broker.port, "huge") { try Hostile.hugeLines(broker) }
        }
    }

    @Test func randomBytesGetOnlyWellFormedRepliesAndTheBrokerKeepsServing() throws {
        let broker = try Hostile.startBroker()
        try expectDescriptorsReturn(broker) {
            try besideCalmPair(broker.port, "random") { try Hostile.randomBytes(broker) }
        }
    }

    @Test func theBrokersDescriptorsReturnToWhereTheyWereAfterTheWholeHostileSet() throws {
        let broker = try Hostile.startBroker()
        try expectDescriptorsReturn(broker) { try Hostile.runAll(broker) }
        broker.signal(SIGTERM)
        #expect(try broker.waitForExit() == 0)
    }
}
