// The WebSocket transport end to end (PROTOCOL.md, "Transports"): the TCP byte stream in data messages, each server frame one message.
import Foundation
import Glibc
import Testing
@testable import Broker

@Suite struct WebSocketTransportTests {
    @Test func theHandshakeSwitchesProtocolsAndEachReplyIsOneMessage() throws {
        try withMetricsBroker { _, port in
            let client = try WebSocketTestClient(port: port)
            #expect(client.responseHead.contains("Upgrade: websocket"))
            try client.send("PING a\nPING b\n")  // two commands in one message
            #expect(try client.message() == "PONG a\n")
            #expect(try client.message() == "PONG b\n")
            try client.send("PI")  // one command across three messages
            try client.send("NG ")
            try client.send("c\n")
            #expect(try client.message() == "PONG c\n")
            try client.sendFrame(Array("PING d\n".utf8), opcode: 0x2)  // binary messages carry the same stream
            #expect(try client.message() == "PONG d\n")
        }
    }

    @Test func subscribersOnTCPAndWebSocketGetTheSameMessages() throws {
        try withMetricsBroker { broker, port in
            let socketSubscriber = try WebSocketTestClient(port: port)
            try socketSubscriber.send("SUB news\n")
            #expect(try socketSubscriber.message() == "OK\n")
            let tcpSubscriber = try broker.connect()
            #expect(try tcpSubscriber.request("SUB news") == "OK")
            let publisher = try broker.connect()
            #expect(try publisher.request("PUB news hello world") == "OK 2")
            #expect(try socketSubscriber.message() == "MSG news hello world\n")
            try tcpSubscriber.expectLine("MSG news hello world")
            // A WebSocket publisher reaches a TCP subscriber.
            try socketSubscriber.send("PUB news from the browser\n")
            #expect(try socketSubscriber.message() == "OK 2\n")
            try tcpSubscriber.expectLine("MSG news from the browser")
            #expect(try socketSubscriber.message() == "MSG news from the browser\n")
        }
    }

    @Test func versionTwoFramesAreWholeMessagesTextOrBinaryByTheirBytes() throws {
        try withMetricsBroker { broker, port in
            let client = try WebSocketTestClient(port: port)
            try client.send("HELLO 2\nSUB bin\n")
            #expect(try client.message() == "OK 2\n")
            #expect(try client.message().hasPrefix("OK "))
            let publisher = try broker.connect()
            try publisher.sendBytes(Array("BPUB bin 5\nab\ncd\n".utf8))
            _ = try publisher.line()
            try publisher.sendBytes(Array("BPUB bin 3\n".utf8) + [0xFF, 0x0A, 0xFE] + [0x0A])
            _ = try publisher.line()
            let text = try #require(try client.frame())
            #expect(text.opcode == 0x1 && text.fin)
            #expect(text.text == "MSG bin 1 5\nab\ncd\n", "a sized frame with LFs inside is one message")
            let binary = try #require(try client.frame())
            #expect(binary.opcode == 0x2, "not UTF-8: a binary message")
            #expect(binary.payload == Array("MSG bin 2 3\n".utf8) + [0xFF, 0x0A, 0xFE, 0x0A])
            // Back to version 1: the next MSG is a line again.
            try client.send("HELLO 1\n")
            #expect(try client.message() == "OK 1\n")
            _ = try publisher.request("PUB bin plain")
            #expect(try client.message() == "MSG bin plain\n")
        }
    }

    @Test(arguments: [1, 2])
    func messagesOfEverySizeAreOneMessageEachWithTheFrameTCPGets(version: Int) throws {
        // Frame lengths around each header form (125/126, 65535/65536) and around the size
        // above which a frame is held by reference rather than copied (512); text or binary
        // by each payload's bytes. The reader's small buffer makes the writes stop inside messages.
        try withMetricsBroker({ $0.capacity = 64 }) { broker, port in
            let client = try WebSocketTestClient(port: port, receiveBuffer: 4096)
            if version == 2 {
                try client.send("HELLO 2\n")
                #expect(try client.message() == "OK 2\n")
            }
            try client.send("SUB sizes\n")
            #expect(try client.message().hasPrefix("OK"))
            let publisher = try broker.connect()
            try publisher.sendRaw("HELLO 2\n")
            #expect(try publisher.line() == "OK 2")
            let header = version == 1 ? 10 : 12  // "MSG sizes " + "\n"; version 2: "<seq> <size>\n" after it, counted below
            var payloads: [[UInt8]] = []
            for frameLength in [40, 125, 126, 127, 511, 512, 513, 600, 65_535, 65_536, 65_537, 300_000] {
                payloads.append([UInt8](repeating: UInt8(ascii: "a") + UInt8(frameLength % 26), count: frameLength - header))
            }
            payloads.append([0xFF, 0xFE, 0x41])  // not UTF-8: binary
            payloads.append(Array("é ✓ 𝄞".utf8))  // UTF-8: text
            payloads.append([UInt8](repeating: 0xC3, count: 700))  // large, not UTF-8
            for payload in payloads {
                try publisher.sendBytes(Array("BPUB sizes \(payload.count)\n".utf8) + payload + [0x0A])
                #expect(try publisher.line().hasPrefix("OK"))
            }
            for (index, payload) in payloads.enumerated() {
                let frame = try #require(try client.frame())
                let expected: [UInt8] = version == 1
                    ? Array("MSG sizes ".utf8) + payload + [0x0A]
                    : Array("MSG sizes \(index + 1) \(payload.count)\n".utf8) + payload + [0x0A]
                #expect(frame.fin && frame.payload == expected, "message \(index): \(frame.payload.count) bytes, \(expected.count) expected")
                let isText = String(validating: payload, as: UTF8.self) != nil
                #expect(frame.opcode == (isText ? 0x1 : 0x2), "message \(index)")
            }
        }
    }

    @Test func aHelloWhileMessagesAreQueuedFramesEachInTheVersionItWasWrittenIn() throws {
        try withMetricsBroker({ $0.capacity = 100_000 }) { broker, port in
            let client = try WebSocketTestClient(port: port, receiveBuffer: 4096)
            try client.send("SUB mixed\n")
            #expect(try client.message() == "OK\n")
            let publisher = try broker.connect()
            let total = 50_000
            let pad = String(repeating: ".", count: 100)  // 5 MB in all: more than the socket buffers hold
            try publisher.sendRaw((1...total).map { "PUB mixed m\($0)\(pad)\n" }.joined())
            for _ in 0..<total { _ = try publisher.line() }
            // Version 1 frames are queued (the client reads nothing yet); HELLO 2 comes behind them.
            try client.send("HELLO 2\n")
            #expect(try publisher.request("PUB mixed last") == "OK 1")
            var versionTwo = false
            var firstVersionTwo: Int?
            var next = 1
            while true {
                let message = try client.message()
                if message == "OK 2\n" {
                    #expect(!versionTwo)
                    versionTwo = true
                    firstVersionTwo = next
                    continue
                }
                if versionTwo {
                    // `MSG mixed <seq> <size>\n<payload>\n`, whole in one message.
                    let lines = message.split(separator: "\n", omittingEmptySubsequences: false)
                    let header = lines[0].split(separator: " ")
                    #expect(header.count == 4 && header[0] == "MSG" && lines.count == 3, "\(message.debugDescription)")
                    let payload = String(lines[1])
                    #expect(Int(header[3]) == payload.utf8.count)
                    if payload == "last" { break }
                    #expect(payload == "m\(next)\(pad)" && Int(header[2]) == next, "\(message.debugDescription)")
                } else {
                    #expect(message == "MSG mixed m\(next)\(pad)\n", "a version 1 line before the switch")
                }
                next += 1
            }
            #expect(versionTwo)
            #expect(next == total + 1, "every message once, in order, each in its own framing")
            #expect(firstVersionTwo ?? 0 > 1, "messages were queued before the switch")
        }
    }

    @Test func pingsBetweenFragmentsArePongedAndTheMessageIsWhole() throws {
        try withMetricsBroker { _, port in
            let client = try WebSocketTestClient(port: port)
            try client.sendFrame(Array("PING fr".utf8), opcode: 0x1, fin: false)
            try client.sendFrame(Array("ping-data".utf8), opcode: 0x9)
            try client.sendFrame(Array("ag\n".utf8), opcode: 0x0, fin: true)
            let pong = try #require(try client.frame())
            #expect(pong.opcode == 0xA && pong.payload == Array("ping-data".utf8))
            #expect(try client.message() == "PONG frag\n")
        }
    }

    @Test func aClientsCloseIsAnsweredAndTheConnectionEnds() throws {
        try withMetricsBroker { broker, port in
            let client = try WebSocketTestClient(port: port)
            #expect(try client.untilPong().isEmpty)
            try client.sendFrame([0x03, 0xE8] + Array("bye".utf8), opcode: 0x8)
            let close = try #require(try client.frame())
            #expect(close.closeCode == 1000)
            #expect(try client.frame() == nil, "then the connection closes")
            let observer = try broker.connect()
            #expect(try observer.request("STATS").contains("connections=1 "))
        }
    }

    @Test func protocolViolationsCloseWithTheirCodes() throws {
        try withMetricsBroker({ $0.maxLineBytes = 64; $0.maxPayloadBytes = 0 }) { _, port in
            let unmasked = try WebSocketTestClient(port: port)
            try unmasked.sendFrame(Array("PING\n".utf8), masked: false)
            #expect(try unmasked.frame()?.closeCode == 1002)
            let badText = try WebSocketTestClient(port: port)
            try badText.sendFrame([0x50, 0xC3, 0x28, 0x0A])  // an invalid UTF-8 sequence in a text message
            #expect(try badText.frame()?.closeCode == 1007)
            let tooBig = try WebSocketTestClient(port: port)
            try tooBig.send(String(repeating: "x", count: 200))
            #expect(try tooBig.frame()?.closeCode == 1009)
            let reserved = try WebSocketTestClient(port: port)
            try reserved.sendFrame(Array("x".utf8), opcode: 0x3)
            #expect(try reserved.frame()?.closeCode == 1002)
            // A line too long inside a message that fits is the protocol's error, not the transport's.
            let longLine = try WebSocketTestClient(port: port)
            try longLine.send(String(repeating: "y", count: 65) + "\n")
            #expect(try longLine.message().hasPrefix("ERR line-too-long"))
        }
    }

    @Test func byeIsTheLastMessageThenACloseFrame() throws {
        try withMetricsBroker({ $0.authToken = "s3cret" }) { _, port in
            let client = try WebSocketTestClient(port: port)
            try client.send("PUB x y\n")
            #expect(try client.message().hasPrefix("ERR auth-required"))
            try client.send("AUTH wrong\n")
            #expect(try client.message().hasPrefix("ERR auth-failed"))
            #expect(try client.message().hasPrefix("BYE auth-failed"))
            #expect(try client.frame()?.closeCode == 1000)
            let good = try WebSocketTestClient(port: port)
            try good.send("AUTH s3cret\nPING\n")
            #expect(try good.message() == "OK\n")
            #expect(try good.message() == "PONG\n")
        }
    }

    @Test func aSubscriberThatDoesNotReadIsToldExactlyWhatItMissed() throws {
        try withMetricsBroker({ $0.capacity = 64 }) { broker, port in
            let slow = try WebSocketTestClient(port: port, receiveBuffer: 4096)
            try slow.send("SUB flood\n")
            #expect(try slow.message() == "OK\n")
            let publisher = try broker.connect()
            let total = 20_000
            let payload = String(repeating: "p", count: 100)
            try publisher.sendRaw(String(repeating: "PUB flood \(payload)\n", count: total))
            for _ in 0..<total { _ = try publisher.line() }
            #expect(try publisher.request("PUB flood end") == "OK 1")
            var received = 0
            var missed = 0
            while true {
                let message = try slow.message()
                if message == "MSG flood end\n" { break }
                if message.hasPrefix("LAGGED flood ") {
                    missed += Int(message.dropFirst("LAGGED flood ".count).dropLast()) ?? 0
                } else {
                    #expect(message == "MSG flood \(payload)\n")
                    received += 1
                }
            }
            #expect(received + missed == total, "MSG + LAGGED = published")
            #expect(missed > 0)
        }
    }

    @Test func framesSplitAtEveryPositionReadTheSame() throws {
        try withMetricsBroker { _, port in
            // Two messages (one of them fragmented, with a ping between the fragments) as one
            // byte stream, cut in two at every position.
            func frame(_ payload: [UInt8], opcode: UInt8, fin: Bool) -> [UInt8] {
                let key: [UInt8] = [0x11, 0x22, 0x33, 0x44]
                return [(fin ? 0x80 : 0) | opcode, 0x80 | UInt8(payload.count)] + key
                    + payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
            }
            let stream = frame(Array("PING a\nPI".utf8), opcode: 0x1, fin: false) + frame(Array("p".utf8), opcode: 0x9, fin: true)
                + frame(Array("NG b\n".utf8), opcode: 0x0, fin: true) + frame(Array("PING c\n".utf8), opcode: 0x2, fin: true)
            for split in 1..<stream.count {
                let client = try WebSocketTestClient(port: port)
                try client.socket.sendBytes(Array(stream[..<split]))
                try client.socket.sendBytes(Array(stream[split...]))
                var got: [String] = []
                for _ in 0..<4 {
                    let next = try #require(try client.frame())
                    got.append(next.opcode == 0xA ? "pong \(next.text)" : next.text)
                }
                // The pong goes out as soon as the ping is read: maybe before an earlier reply.
                #expect(got.filter { !$0.hasPrefix("pong") } == ["PONG a\n", "PONG b\n", "PONG c\n"], "split at \(split)")
                #expect(got.filter { $0.hasPrefix("pong") } == ["pong p"], "split at \(split)")
            }
        }
    }

    @Test func anAbruptCloseEndsTheSessionAndItsSubscriptions() throws {
        try withMetricsBroker { broker, port in
            let client = try WebSocketTestClient(port: port)
            try client.send("SUB gone\n")
            #expect(try client.message() == "OK\n")
            try client.sendFrame(Array("PING".utf8), fin: false)  // a message begun and never finished
            Glibc.shutdown(client.socket.fd, Int32(SHUT_RDWR))
            let observer = try broker.connect()
            let cleared = try pollTCP(observer) {
                let stats = try observer.request("STATS")
                return stats.contains(" connections=1 ") && stats.contains(" subscriptions=0 ")
            }
            #expect(cleared, "the connection and its subscription are gone")
        }
    }

    @Test func requestsThatAreNotUpgradesAreRefused() throws {
        try withMetricsBroker { _, port in
            let plain = try WebSocketTestClient(port: port, headers: ["Host: 127.0.0.1"], expectUpgrade: false)
            #expect(plain.status == 426)
            #expect(plain.responseHead.contains("Sec-WebSocket-Version: 13"))
            let badKey = try WebSocketTestClient(port: port, headers: ["Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade",
                                                                       "Sec-WebSocket-Key: short", "Sec-WebSocket-Version: 13"],
                                                 expectUpgrade: false)
            #expect(badKey.status == 400)
            #expect(try get(port, "/healthz").status == 200, "the rest of the endpoint is as it was")
        }
    }

    @Test func theDaemonsHTTPPortServesWebSocketsAndSaysWhereItListens() throws {
        let (fd, port) = try listenOnEphemeralPort()
        Glibc.close(fd)
        let broker = try BrokerProcess.start(["--port", "0", "--http-port", String(port)])
        defer { broker.kill() }
        let index = try broker.stdout.waitForLine(containing: "http listening on ")
        #expect(broker.stdout.lines[index] == "http listening on 127.0.0.1:\(port)")
        #expect(!broker.stdout.lines.contains { $0.hasPrefix("metrics listening on") }, "metrics_port is not set")
        let client = try WebSocketTestClient(port: port)
        #expect(try client.untilPong().isEmpty)
        // Both names of one listener: the metrics line first, as before; two different ports are refused.
        let (other, otherPort) = try listenOnEphemeralPort()
        Glibc.close(other)
        let both = try BrokerProcess.start(["--port", "0", "--http-port", String(otherPort), "--metrics-port", String(otherPort)])
        defer { both.kill() }
        let metricsLine = try both.stdout.waitForLine(containing: "metrics listening on ")
        #expect(metricsLine == 1)
        #expect(try both.stdout.waitForLine(containing: "http listening on ") == 2)
        let refused = try runBrokerServer(["--port", "0", "--http-port", "1", "--metrics-port", "2"])
        #expect(refused.status == 78)
        #expect(refused.stderr.contains { $0.contains("http_port 1 and metrics_port 2") })
    }
}

/// Polls `condition` (each poll is a request on `client`, which orders it after what the
/// broker did before), pausing 10 ms between polls, until it holds or 10 s pass.
func pollTCP(_ client: TestClient, until condition: () throws -> Bool) throws -> Bool {
    let deadline = ContinuousClock.now + .seconds(10)
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        usleep(10_000)
    }
    return false
}
