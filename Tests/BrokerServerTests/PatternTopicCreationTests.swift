// A pattern subscription receives messages on a topic that an exact SUB created after it.
import Testing

@Suite struct PatternTopicCreationTests {
    @Test func aPatternSubscriptionReceivesFromATopicFirstCreatedByAnExactSubscription() throws {
        try withBroker { broker in
            let pattern = try broker.connect()
            #expect(try pattern.request("SUB orders.*") == "OK")
            let exact = try broker.connect()
            #expect(try exact.request("SUB orders.eu") == "OK")  // creates the topic
            let publisher = try broker.connect()
            #expect(try publisher.request("PUB orders.eu hello") == "OK 2")
            try pattern.expectLine("MSG orders.eu hello")
            try exact.expectLine("MSG orders.eu hello")
        }
    }

    @Test func aPatternSubscriptionKeepsReceivingAfterTheExactSubscriberLeaves() throws {
        try withBroker { broker in
            let pattern = try broker.connect()
            #expect(try pattern.request("SUB orders.>") == "OK")
            let exact = try broker.connect()
            #expect(try exact.request("SUB orders.eu.created") == "OK")
            #expect(try exact.request("UNSUB orders.eu.created") == "OK")
            let publisher = try broker.connect()
            #expect(try publisher.request("PUB orders.eu.created 1") == "OK 1")
            try pattern.expectLine("MSG orders.eu.created 1")
        }
    }
}
