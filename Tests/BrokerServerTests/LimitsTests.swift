// Limits: connections, topics, idle partial lines, many connections at once.
import Broker
import Testing

@Suite struct LimitsTests {
    @Test func aConnectionBeyondMaxConnectionsGetsByeAndIsClosed() throws {
        try withBroker({ $0.maxConnections = 3 }) { broker in
            let open = try (0..<3).map { _ in try broker.connect() }
            for client in open { try client.barrier() }  // all three accepted and counted
            let extra = try broker.connect()
            try extra.expectLine(startingWith: "BYE too-many-connections ")
            try extra.expectEOF()
            for client in open { try client.barrier() }  // the others are unaffected
        }
    }

    @Test func creatingATopicBeyondMaxTopicsIsRefusedWithTooManyTopics() throws {
        try withBroker({ $0.maxTopics = 2 }) { broker in
            let client = try broker.connect()
            #expect(try client.request("SUB a") == "OK")
            #expect(try client.request("SUB b") == "OK")
            #expect(try client.request("SUB c").hasPrefix("ERR too-many-topics "))
            #expect(try client.request("SUB x.*") == "OK")  // a pattern creates no topic
            #expect(try client.request("PUB x.1 y").hasPrefix("ERR too-many-topics "))  // this PUB would
            #expect(try client.request("PUB a y") == "OK 1")
            #expect(try client.line() == "MSG a y")
            #expect(try client.request("UNSUB b") == "OK")  // frees topic b
            #expect(try client.request("SUB c") == "OK")
        }
    }

    @Test func aPartialLineThatNeverEndsIsClosedByTheIdleTimeoutButAQuietSubscriberIsNot() throws {
        try withBroker({ $0.idleTimeoutMs = 200 }) { broker in
            let quiet = try broker.connect()
            #expect(try quiet.request("SUB t") == "OK")
            // Each slowloris is the clock: its BYE comes only after 200 ms have passed.
            for round in 0..<4 {
                let slowloris = try broker.connect()
                try slowloris.sendRaw("PUB t never-ends-\(round)")
                try slowloris.expectLine(startingWith: "BYE idle-timeout ")
                try slowloris.expectEOF()
            }
            let publisher = try broker.connect()
            #expect(try publisher.request("PUB t later") == "OK 1")
            try quiet.expectLine("MSG t later")
        }
    }

    @Test func aThousandConnectionsEachGetTheMessageOnTheirOwnTopic() throws {
        raiseOpenFileLimit()
        try withBroker { broker in
            let count = 1000
            let clients = try (0..<count).map { _ in try broker.connect() }
            for (index, client) in clients.enumerated() { try client.send("SUB own.\(index)") }
            for client in clients { try client.expectLine("OK") }
            let publisher = try broker.connect()
            for start in stride(from: 0, to: count, by: 100) {
                try publisher.sendRaw((start..<start + 100).map { "PUB own.\($0) hello-\($0)\n" }.joined())
                for _ in 0..<100 { try publisher.expectLine("OK 1") }
            }
            for (index, client) in clients.enumerated() { try client.expectLine("MSG own.\(index) hello-\(index)") }
        }
    }
}
