// Topics are freed when nothing keeps them: exact topics at the last UNSUB,
// pattern-only topics once drained (a sweep), and nothing is lost for patterns.
import Broker
import Testing

@Suite struct TopicLifetimeTests {
    /// The `topics=` figure of a STATS reply.
    private func topicCount(_ client: TestClient) throws -> Int {
        let reply = try client.request("STATS")
        let field = reply.split(separator: " ").first { $0.hasPrefix("topics=") } ?? "topics=-1"
        return Int(field.dropFirst("topics=".count)) ?? -1
    }

    @Test func anExactTopicIsFreedWhenItsLastSubscriberLeaves() throws {
        try withBroker({ $0.lingerMs = 0 }) { broker in
            let client = try broker.connect()
            for index in 0..<100 { #expect(try client.request("SUB t.\(index)") == "OK") }
            #expect(try topicCount(client) == 100)
            for index in 0..<100 { #expect(try client.request("UNSUB t.\(index)") == "OK") }
            #expect(try topicCount(client) == 0)
            #expect(try client.request("PUB t.1 x") == "OK 0")
            #expect(try topicCount(client) == 0)
        }
    }

    @Test func shortLivedTopicsSeenOnlyByAPatternAreFreedAndThePatternLosesNothing() throws {
        try withBroker({ $0.lingerMs = 0 }) { broker in
            let subscriber = try broker.connect()
            #expect(try subscriber.request("SUB gc.>") == "OK")
            let publisher = try broker.connect()
            for index in 0..<500 { #expect(try publisher.request("PUB gc.\(index) m\(index)") == "OK 1") }
            for index in 0..<500 { #expect(try subscriber.line() == "MSG gc.\(index) m\(index)") }
            #expect(try topicCount(publisher) == 500)
            // The sweep runs every two seconds; wait for it by watching the figure (a guard ends the wait).
            let deadline = ContinuousClock.now + .seconds(20)
            while try topicCount(publisher) > 0 && ContinuousClock.now < deadline {
                try publisher.barrier()
            }
            #expect(try topicCount(publisher) == 0)
            // The subscription still sees every topic it matches, old or new.
            #expect(try publisher.request("PUB gc.7 again") == "OK 1")
            #expect(try publisher.request("PUB gc.new first") == "OK 1")
            #expect(try subscriber.line() == "MSG gc.7 again")
            #expect(try subscriber.line() == "MSG gc.new first")
        }
    }

    @Test func aHotTopicFreedBetweenMessagesLosesNothingForItsPattern() throws {
        try withBroker({ $0.lingerMs = 0 }) { broker in
            let subscriber = try broker.connect()
            #expect(try subscriber.request("SUB hot.*") == "OK")
            let publisher = try broker.connect()
            var recreations = 0
            var lastPublished = 0
            var sent = 0
            let deadline = ContinuousClock.now + .seconds(30)
            // Publish one message at a time, each read before the next, so the topic is often drained
            // when a sweep runs; the topic's published_total starting over shows it was made anew.
            while recreations < 2 && ContinuousClock.now < deadline {
                #expect(try publisher.request("PUB hot.one \(sent)") == "OK 1")
                #expect(try subscriber.line() == "MSG hot.one \(sent)")
                sent += 1
                if sent % 50 == 0 {
                    let stats = try publisher.request("STATS hot.one")
                    let field = stats.split(separator: " ").first { $0.hasPrefix("published_total=") } ?? ""
                    let published = Int(field.dropFirst("published_total=".count)) ?? 0
                    if published < lastPublished { recreations += 1 }
                    lastPublished = published
                }
            }
            #expect(recreations >= 2)
        }
    }
}
