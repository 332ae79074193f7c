// Seeded random round trips through encoder, framer and parser, and garbage that must never trap.
import Testing
import Protocol

@Suite struct RoundTripTests {
    /// A random valid topic (or pattern when `wildcards`).
    func randomName(_ rng: inout SeededGenerator, wildcards: Bool) -> [UInt8] {
        let levels = Int.random(in: 1...4, using: &rng)
        var name: [UInt8] = []
        for level in 0..<levels {
            if level > 0 { name.append(0x2E) }
            if wildcards && Int.random(in: 0..<5, using: &rng) == 0 {
                name.append(level == levels - 1 && Bool.random(using: &rng) ? 0x3E : 0x2A)
                continue
            }
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                var byte = UInt8.random(in: 0x21...0x7E, using: &rng)
                while byte == 0x2E || byte == 0x2A || byte == 0x3E || (name.isEmpty && byte == 0x24) {
                    byte = UInt8.random(in: 0x21...0x7E, using: &rng)
                }
                name.append(byte)
            }
        }
        return name
    }

    func randomPayload(_ rng: inout SeededGenerator) -> [UInt8] {
        var payload = (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        payload.removeAll { $0 == 0x0A }
        while payload.last == 0x0D { payload.removeLast() }
        return payload
    }

    func randomCommand(_ rng: inout SeededGenerator) -> Command {
        switch Int.random(in: 0..<10, using: &rng) {
        case 0..<5: .publish(topic: randomName(&rng, wildcards: false), payload: randomPayload(&rng))
        case 5, 6: .subscribe(pattern: randomName(&rng, wildcards: true))
        case 7: .unsubscribe(pattern: randomName(&rng, wildcards: true))
        case 8: .ping(token: Bool.random(using: &rng) ? nil : randomName(&rng, wildcards: false))
        default: .quit
        }
    }

    @Test func thousandsOfCommandsSurviveEncodeFrameAndParseInRandomChunks() throws {
        var rng = SeededGenerator(seed: 0x5EED)
        let commands = (0..<5000).map { _ in randomCommand(&rng) }
        var stream: [UInt8] = []
        for command in commands {
            command.encode(into: &stream)
            if Int.random(in: 0..<4, using: &rng) == 0 { stream.insert(0x0D, at: stream.count - 1) }  // CRLF
        }
        var framer = LineFramer(maxLineBytes: 512)
        var decoded: [Command] = []
        var failures: [ProtocolError] = []
        var offset = 0
        while offset < stream.count {
            let size = min(Int.random(in: 1...300, using: &rng), stream.count - offset)
            _ = stream[offset..<(offset + size)].withUnsafeBytes { chunk in
                framer.feed(chunk) { event in
                    guard case let .line(line) = event else { return .proceed }
                    do throws(ProtocolError) { decoded.append(Command(try CommandParser.parse(line))) } catch { failures.append(error) }
                    return .proceed
                }
            }
            offset += size
        }
        #expect(failures.isEmpty)
        #expect(decoded == commands)
    }

    @Test func thousandsOfBrokerFramesSurviveEncodeFrameAndParseInRandomChunks() throws {
        var rng = SeededGenerator(seed: 42)
        var frames: [ServerFrame] = []
        for _ in 0..<5000 {
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: frames.append(.ok(rest: Bool.random(using: &rng) ? nil : Array("\(Int.random(in: 0...9999, using: &rng))".utf8)))
            case 1: frames.append(.err(code: .badTopic, text: "topic has an empty level"))
            case 2: frames.append(.pong(token: Bool.random(using: &rng) ? nil : randomName(&rng, wildcards: false)))
            case 3, 4: frames.append(.msg(topic: randomName(&rng, wildcards: false), payload: randomPayload(&rng)))
            default: frames.append(.lagged(topic: randomName(&rng, wildcards: false), count: UInt64.random(in: 1...1_000_000, using: &rng)))
            }
        }
        var stream: [UInt8] = []
        for frame in frames { frame.encode(into: &stream) }
        var framer = LineFramer(maxLineBytes: 1024)
        var decoded: [ServerFrame] = []
        var offset = 0
        while offset < stream.count {
            let size = min(Int.random(in: 1...200, using: &rng), stream.count - offset)
            _ = try stream[offset..<(offset + size)].withUnsafeBytes { chunk in
                try framer.feed(chunk) { event in
                    if case let .line(line) = event { decoded.append(ServerFrame(try ServerFrameParser.parse(line))) }
                    return .proceed
                }
            }
            offset += size
        }
        #expect(decoded == frames)
    }

    @Test func randomGarbageYieldsOnlyCommandsOrErrors() {
        var rng = SeededGenerator(seed: 7)
        var framer = LineFramer(maxLineBytes: 64)
        var commands = 0
        var errors = 0
        var tooLong = 0
        for _ in 0..<20_000 {
            let alphabet: [UInt8] = [0x0A, 0x0D, 0x20, 0x2E, 0x2A, 0x3E, 0x24, 0x50, 0x55, 0x42, 0x53, 0x70, 0x00, 0xFF]
            let chunk = (0..<Int.random(in: 1...64, using: &rng)).map { _ in
                Bool.random(using: &rng) ? alphabet.randomElement(using: &rng) ?? 0 : UInt8.random(in: 0...255, using: &rng)
            }
            _ = chunk.withUnsafeBytes { bytes in
                framer.feed(bytes) { event in
                    switch event {
                    case let .line(line):
                        #expect(!line.isEmpty && line.count <= 64 && !line.contains(0x0A))
                        do throws(ProtocolError) { _ = try CommandParser.parse(line); commands += 1 } catch {
                            errors += 1
                            #expect(!error.text.isEmpty)
                        }
                    case .lineTooLong: tooLong += 1
                    case .payload, .payloadSkipped, .badFraming: Issue.record("no payload was asked for")
                    }
                    return .proceed
                }
            }
        }
        #expect(commands + errors + tooLong > 0)
        // Garbage with the protocol's own words in it parses as commands now and then.
        for line in ["PUB a b", "SUB a.>", "PING"] {
            #expect(errorCode(line) == nil)
        }
    }

    @Test func knownVerbsWithGarbageArgumentsNeverTrap() {
        var rng = SeededGenerator(seed: 99)
        for _ in 0..<20_000 {
            let verb = ["PUB ", "SUB ", "UNSUB ", "PING ", "QUIT ", "pub", "sub"].randomElement(using: &rng) ?? "PUB "
            var line = Array(verb.utf8)
            for _ in 0..<Int.random(in: 0...300, using: &rng) {
                let byte = UInt8.random(in: 0...255, using: &rng)
                if byte != 0x0A { line.append(byte) }
            }
            switch Result(catching: { () throws(ProtocolError) in try CommandParser.parse(line) }) {
            case .success: break
            case let .failure(error): #expect(!error.text.isEmpty)
            }
        }
    }
}
