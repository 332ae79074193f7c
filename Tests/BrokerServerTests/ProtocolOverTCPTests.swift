// Every row and guarantee of PROTOCOL.md, over real TCP against an in-process broker.
import Broker
import Foundation
import Glibc
import Protocol
import Testing

@Suite struct ProtocolOverTCPTests {
    @Test func pubRepliesWithTheNumberOfMatchingSubscriptionsIncludingThePublishersOwn() throws {
        try withBroker { broker in
            let publisher = try broker.connect()
            let other = try broker.connect()
            #expect(try publisher.request("PUB a.b nobody") == "OK 0")
            #expect(try other.request("SUB a.b") == "OK")
            #expect(try other.request("SUB a.*") == "OK")
            #expect(try publisher.request("SUB a.>") == "OK")
            try publisher.send("PUB a.b three")
            // The publisher's own MSG and its reply are not ordered against each other.
            let lines = [try publisher.line(), try publisher.line()].sorted()
            #expect(lines == ["MSG a.b three", "OK 3"])
            try other.expectLine("MSG a.b three")
            try other.expectLine("MSG a.b three")
        }
    }

    @Test func subIsActiveBeforeItsReplyAndADuplicateSubIsOK() throws {
        try withBroker { broker in
            let subscriber = try broker.connect()
            let publisher = try broker.connect()
            #expect(try subscriber.request("SUB t") == "OK")
            #expect(try subscriber.request("SUB t") == "OK")  // no-op: still one subscription
            #expect(try publisher.request("PUB t first") == "OK 1")
            try subscriber.expectLine("MSG t first")
        }
    }

    @Test func unsubStopsDeliveryAtItsReplyEvenForMessagesAlreadyPublished() throws {
        try withBroker { broker in
            let subscriber = try broker.connect()
            let publisher = try broker.connect()
            #expect(try subscriber.request("SUB t") == "OK")
            #expect(try subscriber.request("SUB marker") == "OK")
            // Published before the UNSUB and not yet read by the subscriber.
            for index in 0..<500 { try publisher.send("PUB t before-\(index)") }
            for _ in 0..<500 { try publisher.expectLine("OK 1") }
            try subscriber.send("UNSUB t")
            var before = 0
            while true {
                let line = try subscriber.line()
                if line == "OK" { break }
                #expect(line == "MSG t before-\(before)")
                before += 1
            }
            #expect(before <= 500)
            #expect(try publisher.request("PUB t after") == "OK 0")
            #expect(try publisher.request("PUB marker m") == "OK 1")
            try subscriber.expectLine("MSG marker m")  // nothing on t after the UNSUB reply
        }
    }

    @Test func unsubOfAStringNotSubscribedIsNotSubscribed() throws {
        try withBroker { broker in
            let client = try broker.connect()
            #expect(try client.request("UNSUB nothing").hasPrefix("ERR not-subscribed "))
            #expect(try client.request("SUB a.*") == "OK")
            #expect(try client.request("UNSUB a.b").hasPrefix("ERR not-subscribed "))  // exactly the string
            #expect(try client.request("UNSUB a.*") == "OK")
            #expect(try client.request("UNSUB a.*").hasPrefix("ERR not-subscribed "))
        }
    }

    @Test func pingIsAnsweredWithPongAndItsToken() throws {
        try withBroker { broker in
            let client = try broker.connect()
            #expect(try client.request("PING tok") == "PONG tok")
            #expect(try client.request("PING") == "PONG")
            #expect(try client.request("PING ") == "PONG")
            #expect(try client.request("PING a b").hasPrefix("ERR bad-arguments "))
        }
    }

    @Test func quitIsAnsweredOKThenTheConnectionClosesAndNothingAfterItRuns() throws {
        try withBroker { broker in
            let subscriber = try broker.connect()
            #expect(try subscriber.request("SUB t") == "OK")
            let quitter = try broker.connect()
            try quitter.sendRaw("QUIT\nPUB t after-quit\nPING x\n")
            try quitter.expectLine("OK")
            try quitter.expectEOF()
            let publisher = try broker.connect()
            #expect(try publisher.request("PUB t marker") == "OK 1")
            try subscriber.expectLine("MSG t marker")
        }
    }

    @Test func verbsAreCaseInsensitiveAndRepliesAreUpperCase() throws {
        try withBroker { broker in
            let client = try broker.connect()
            #expect(try client.request("sub t") == "OK")
            #expect(try client.request("Ping x") == "PONG x")
            try client.send("pUb t hello")
            let lines = [try client.line(), try client.line()].sorted()
            #expect(lines == ["MSG t hello", "OK 1"])
            #expect(try client.request("UnSub t") == "OK")
            #expect(try client.request("FOO").hasPrefix("ERR unknown-command "))
        }
    }

    @Test func crlfLineEndingsWorkAndTheBrokerWritesLF() throws {
        try withBroker { broker in
            let client = try broker.connect()
            try client.sendRaw("PING a\r\nSUB t\r\nPUB u x\r\n")
            try client.expectLine("PONG a")
            try client.expectLine("OK")
            try client.expectLine("OK 0")
            // Only the CR right before the LF is dropped: a payload still ending with CR is refused.
            try client.sendRaw("PUB u abc\r\r\n")
            try client.expectLine(startingWith: "ERR bad-arguments ")
        }
    }

    @Test func emptyLinesGetNoReply() throws {
        try withBroker { broker in
            let client = try broker.connect()
            try client.sendRaw("\n\r\n\nPING after\n")
            try client.expectLine("PONG after")
        }
    }

    @Test func payloadsKeepSpacesAndMayBeEmpty() throws {
        try withBroker { broker in
            let subscriber = try broker.connect()
            let publisher = try broker.connect()
            #expect(try subscriber.request("SUB t") == "OK")
            #expect(try publisher.request("PUB t  two  spaces ") == "OK 1")
            #expect(try publisher.request("PUB t ") == "OK 1")
            try subscriber.expectLine("MSG t  two  spaces ")
            try subscriber.expectLine("MSG t ")
            #expect(try publisher.request("PUB t").hasPrefix("ERR bad-arguments "))
            #expect(try publisher.request("PUB  x").hasPrefix("ERR bad-topic "))
            #expect(try publisher.request("PUB a..b x").hasPrefix("ERR bad-topic "))
            #expect(try publisher.request("PUB a.* x").hasPrefix("ERR bad-topic "))
            #expect(try publisher.request("SUB a b").hasPrefix("ERR bad-arguments "))
            #expect(try publisher.request("SUB ").hasPrefix("ERR bad-topic "))
            #expect(try publisher.request("SUB a*").hasPrefix("ERR bad-topic "))
            #expect(try publisher.request("SUB >.a").hasPrefix("ERR bad-topic "))
        }
    }

    @Test func lineTooLongIsAnsweredBeforeItsLFInOrderAndTheConnectionStaysUsable() throws {
        try withBroker({ $0.maxLineBytes = 64 }) { broker in
            let client = try broker.connect()
            // 65 bytes and no LF: the ERR comes without the LF ever being sent.
            try client.sendRaw("PING one\n" + "PUB t " + String(repeating: "x", count: 59))
            try client.expectLine("PONG one")
            try client.expectLine(startingWith: "ERR line-too-long ")
            // The rest of that line is discarded up to its LF; then the connection works.
            try client.sendRaw(String(repeating: "y", count: 1000) + "\nPING two\n")
            try client.expectLine("PONG two")
            // Exactly max_line_bytes is valid, with LF and with CRLF.
            let exact = "PING " + String(repeating: "z", count: 59)
            #expect(exact.utf8.count == 64)
            try client.sendRaw(exact + "\n" + exact + "\r\n")
            try client.expectLine("PONG " + String(repeating: "z", count: 59))
            try client.expectLine("PONG " + String(repeating: "z", count: 59))
            // One byte more, in order between two other replies.
            try client.sendRaw("PING a\n" + exact + "z\nPING b\n")
            try client.expectLine("PONG a")
            try client.expectLine(startingWith: "ERR line-too-long ")
            try client.expectLine("PONG b")
        }
    }

    @Test func atEOFCompleteLinesAreExecutedAndRepliedAndAPartialLineIsDiscarded() throws {
        try withBroker { broker in
            let subscriber = try broker.connect()
            #expect(try subscriber.request("SUB t") == "OK")
            let client = try broker.connect()
            try client.sendRaw("PING 1\nPUB t complete\nPING 2\nPUB t partial")
            client.shutdownWrite()
            try client.expectLine("PONG 1")
            try client.expectLine("OK 1")
            try client.expectLine("PONG 2")
            try client.expectEOF()
            let publisher = try broker.connect()
            #expect(try publisher.request("PUB t marker") == "OK 1")
            try subscriber.expectLine("MSG t complete")
            try subscriber.expectLine("MSG t marker")
        }
    }

    @Test func aConnectionGetsOneMSGPerMatchingSubscription() throws {
        try withBroker { broker in
            let subscriber = try broker.connect()
            let publisher = try broker.connect()
            #expect(try subscriber.request("SUB a.b") == "OK")
            #expect(try subscriber.request("SUB a.*") == "OK")
            #expect(try subscriber.request("SUB marker") == "OK")
            #expect(try publisher.request("PUB a.b x") == "OK 2")
            #expect(try publisher.request("PUB a.c y") == "OK 1")
            #expect(try publisher.request("PUB a.b.c z") == "OK 0")
            #expect(try publisher.request("PUB marker m") == "OK 1")
            var lines: [String] = []
            while true {
                let line = try subscriber.line()
                if line == "MSG marker m" { break }
                lines.append(line)
            }
            #expect(lines.sorted() == ["MSG a.b x", "MSG a.b x", "MSG a.c y"])
        }
    }

    @Test func messagesOnOneTopicArriveInTheOrderTheirPUBsRanAcrossPublishers() throws {
        try withBroker { broker in
            let subscriber = try broker.connect()
            #expect(try subscriber.request("SUB t") == "OK")
            let first = try broker.connect()
            let second = try broker.connect()
            var expected: [String] = []
            for round in 0..<200 {
                let publisher = round % 3 == 0 ? second : first
                #expect(try publisher.request("PUB t \(round)") == "OK 1")  // executed before the next PUB is sent
                expected.append("MSG t \(round)")
            }
            for line in expected { try subscriber.expectLine(line) }
        }
    }

    @Test func clientsCannotPublishToDollarTopicsAndWildcardsAtTheFirstLevelDoNotMatchThem() throws {
        try withBroker { broker in
            let client = try broker.connect()
            #expect(try client.request("PUB $x y").hasPrefix("ERR reserved-topic "))
            #expect(try client.request("PUB $SYS.lagged y").hasPrefix("ERR reserved-topic "))
            #expect(try client.request("PUB $x.* z").hasPrefix("ERR bad-topic "))
            #expect(try client.request("SUB $SYS.>") == "OK")
        }
        // The broker publishes nothing on $SYS yet, so the matching rule is checked where it lives.
        func matches(_ pattern: String, _ topic: String) -> Bool {
            Array(pattern.utf8).withUnsafeBytes { p in Array(topic.utf8).withUnsafeBytes { t in Names.matches(pattern: p, topic: t) } }
        }
        #expect(!matches(">", "$SYS.lagged"))
        #expect(!matches("*.lagged", "$SYS.lagged"))
        #expect(matches("$SYS.>", "$SYS.lagged"))
    }

    @Test func wildcardSubscriptionsMatchTopicsCreatedAfterThem() throws {
        try withBroker { broker in
            let star = try broker.connect()
            let tail = try broker.connect()
            let publisher = try broker.connect()
            #expect(try star.request("SUB orders.*.created") == "OK")
            #expect(try tail.request("SUB orders.>") == "OK")
            #expect(try publisher.request("PUB orders.eu.created 1") == "OK 2")
            #expect(try publisher.request("PUB orders.eu.created.x 2") == "OK 1")
            #expect(try publisher.request("PUB orders 3") == "OK 0")  // > needs one level at least
            #expect(try publisher.request("PUB orders.us.deleted 4") == "OK 1")
            #expect(try publisher.request("PUB Orders.eu.created 5") == "OK 0")  // case-sensitive
            try star.expectLine("MSG orders.eu.created 1")
            try tail.expectLine("MSG orders.eu.created 1")
            try tail.expectLine("MSG orders.eu.created.x 2")
            try tail.expectLine("MSG orders.us.deleted 4")
            // A concrete subscriber on a topic the pattern already matched.
            let exact = try broker.connect()
            #expect(try exact.request("SUB orders.eu.created") == "OK")
            #expect(try publisher.request("PUB orders.eu.created 6") == "OK 3")
            try star.expectLine("MSG orders.eu.created 6")
            try tail.expectLine("MSG orders.eu.created 6")
            try exact.expectLine("MSG orders.eu.created 6")
        }
    }

    @Test func aSubBeyondTheSubscriptionLimitIsRefusedButADuplicateIsStillOK() throws {
        try withBroker({ $0.maxSubscriptionsPerConnection = 3 }) { broker in
            let client = try broker.connect()
            #expect(try client.request("SUB a") == "OK")
            #expect(try client.request("SUB b.*") == "OK")
            #expect(try client.request("SUB c.>") == "OK")
            #expect(try client.request("SUB d").hasPrefix("ERR too-many-subscriptions "))
            #expect(try client.request("SUB a") == "OK")
            #expect(try client.request("UNSUB a") == "OK")
            #expect(try client.request("SUB d") == "OK")
            // The limit is per connection.
            let other = try broker.connect()
            #expect(try other.request("SUB a") == "OK")
        }
    }

    @Test func aClientThatDoesNotReadGetsBackpressureAndStillEveryReplyInOrder() throws {
        try withBroker { broker in
            let client = try broker.connect()
            let count = 200_000
            // Tokens padded to 64 bytes: 14 MB of commands, more than the socket buffers hold.
            func token(_ index: Int) -> String {
                let digits = String(index)
                return String(repeating: "0", count: 64 - digits.count) + digits
            }
            var bytes: [UInt8] = []
            for index in 0..<count { bytes.append(contentsOf: "PING \(token(index))\n".utf8) }
            // Send without reading until the socket is full: the broker stopped reading.
            let offset = try client.sendWithoutBlocking(bytes, from: 0)
            #expect(offset < bytes.count, "the broker kept reading 200k commands whose replies were not read")
            // Send the rest from another thread while this one reads every reply.
            let rest = Array(bytes[offset...])
            let fd = client.fd
            let sender = Thread {
                var sent = 0
                rest.withUnsafeBytes { raw in
                    while sent < raw.count {
                        let written = Glibc.send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                        if written <= 0 { if errno == EINTR { continue }; return }
                        sent += written
                    }
                }
            }
            sender.start()
            for index in 0..<count {
                let line = try client.line()
                if line != "PONG \(token(index))" {
                    Issue.record("reply \(index) was '\(line)'")
                    return
                }
            }
        }
    }
}

@Suite struct PatternBeforeExactTests {
    @Test func aPatternSubscriberGetsMessagesOnATopicFirstCreatedByAnotherClientsExactSub() throws {
        try withBroker { broker in
            let pattern = try broker.connect()
            let exact = try broker.connect()
            #expect(try pattern.request("SUB orders.*") == "OK")
            #expect(try exact.request("SUB orders.eu") == "OK")
            #expect(try exact.request("PUB orders.eu hi") == "OK 2")
            try pattern.expectLine("MSG orders.eu hi")
        }
    }
}
