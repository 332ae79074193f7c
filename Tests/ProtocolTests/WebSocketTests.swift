// RFC 6455 frames and handshake: every rule a server checks, every split point, the server's frames, base64.
import Testing
import Protocol

/// A client frame: FIN, opcode, masked payload (RFC 6455 5.2), with optional header damage.
private func clientFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, masked: Bool = true,
                         rsv: UInt8 = 0, key: [UInt8] = [0x37, 0xfa, 0x21, 0x3d]) -> [UInt8] {
    var frame: [UInt8] = [(fin ? 0x80 : 0) | rsv | opcode]
    let maskBit: UInt8 = masked ? 0x80 : 0
    if payload.count <= 125 {
        frame.append(maskBit | UInt8(payload.count))
    } else if payload.count <= 0xFFFF {
        frame += [maskBit | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
    } else {
        frame.append(maskBit | 127)
        for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8(truncatingIfNeeded: payload.count >> shift)) }
    }
    if masked {
        frame += key
        frame += payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
    } else {
        frame += payload
    }
    return frame
}

private enum Seen: Equatable {
    case data([UInt8]), ping([UInt8]), pong([UInt8]), close(UInt16?, [UInt8]), failure(UInt16)
}

/// Feeds `bytes` in pieces of `step` bytes (0: all at once); data pieces of one message are joined.
private func parse(_ bytes: [UInt8], step: Int = 0, limit: Int = 1 << 20) -> [Seen] {
    var parser = WebSocketFrameParser(maxMessageBytes: limit)
    var seen: [Seen] = []
    var buffer = bytes
    let size = step == 0 ? max(1, bytes.count) : step
    do {
        try buffer.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) throws -> Void in
            var start = 0
            while start < raw.count {
                let end = min(raw.count, start + size)
                try parser.feed(UnsafeMutableRawBufferPointer(rebasing: raw[start..<end])) { event in
                    switch event {
                    case let .data(piece):
                        if case let .data(sofar)? = seen.last { seen[seen.count - 1] = .data(sofar + Array(piece)) } else { seen.append(.data(Array(piece))) }
                    case let .ping(payload): seen.append(.ping(payload))
                    case let .pong(payload): seen.append(.pong(payload))
                    case let .close(code, reason): seen.append(.close(code, reason))
                    }
                }
                start = end
            }
        }
    } catch {
        seen.append(.failure((error as? WebSocketFailure)?.closeCode ?? 0))
    }
    return seen
}

@Suite struct WebSocketTests {
    @Test func rfc6455sHandshakeExample() {
        #expect(WebSocketHandshake.acceptKey(for: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(WebSocketHandshake.isValidKey("dGhlIHNhbXBsZSBub25jZQ=="))
        #expect(!WebSocketHandshake.isValidKey("dGhlIHNhbXBsZSBub25jZQ"))  // not padded
        #expect(!WebSocketHandshake.isValidKey("aGVsbG8="))  // 5 bytes, not 16
        #expect(String(decoding: WebSocketHandshake.response(for: "dGhlIHNhbXBsZSBub25jZQ=="), as: UTF8.self)
            == "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
    }

    @Test func base64RoundTripsAndRefusesWhatIsNotCanonical() {
        for length in 0...40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
        #expect(Base64.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Base64.encode(Array("fo".utf8)) == "Zm8=")
        for bad in ["Zm9", "Zm=v", "Z===", "Zm9v=", "Zm8_", "Zm9=", "Zm==Zm9v"] {
            #expect(Base64.decode(bad) == nil, "\(bad)")
        }
    }

    @Test func dataMessagesArriveUnmaskedAtEverySplitPoint() {
        let text = Array("PUB t hello\nPING\n".utf8)
        let binary: [UInt8] = Array(0...255)
        let stream = clientFrame(0x1, text) + clientFrame(0x2, binary) + clientFrame(0x9, Array("hi".utf8))
            + clientFrame(0xA, []) + clientFrame(0x8, [0x03, 0xE8] + Array("bye".utf8))
        for step in [0, 1, 2, 3, 5, 7, 13, 64] {
            #expect(parse(stream, step: step) == [.data(text + binary), .ping(Array("hi".utf8)), .pong([]),
                                                  .close(1000, Array("bye".utf8))], "step \(step)")
        }
    }

    @Test func everyLengthEncodingIsRead() {
        for length in [0, 1, 125, 126, 127, 65_535, 65_536, 70_000] {
            let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0) }
            #expect(parse(clientFrame(0x2, payload), step: 4096) == (length == 0 ? [] : [.data(payload)]), "\(length)")
        }
    }

    @Test func fragmentsWithAControlFrameBetweenThemMakeOneMessage() {
        let stream = clientFrame(0x1, Array("PUB t ".utf8), fin: false) + clientFrame(0x9, [1, 2], fin: true)
            + clientFrame(0x0, Array("ab".utf8), fin: false) + clientFrame(0x0, Array("c\n".utf8), fin: true)
            + clientFrame(0x2, [9])
        #expect(parse(stream, step: 1) == [.data(Array("PUB t ".utf8)), .ping([1, 2]), .data(Array("abc\n".utf8) + [9])])
    }

    @Test func eachProtocolErrorCloses1002() {
        let cases: [(String, [UInt8])] = [
            ("unmasked", clientFrame(0x1, [0x41], masked: false)),
            ("reserved bit", clientFrame(0x1, [0x41], rsv: 0x40)),
            ("unknown opcode", clientFrame(0x3, [])),
            ("unknown control opcode", clientFrame(0xB, [])),
            ("continuation first", clientFrame(0x0, [0x41])),
            ("new message inside one", clientFrame(0x1, [0x41], fin: false) + clientFrame(0x2, [0x42])),
            ("fragmented ping", clientFrame(0x9, [], fin: false)),
            ("long ping", clientFrame(0x9, [UInt8](repeating: 0, count: 126))),
            ("close of one byte", clientFrame(0x8, [0x03])),
            ("close code 1005", clientFrame(0x8, [0x03, 0xED])),
            ("close code 999", clientFrame(0x8, [0x03, 0xE7])),
            ("close code 2000", clientFrame(0x8, [0x07, 0xD0])),
            ("64-bit length with its top bit set", [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]),
        ]
        for (name, bytes) in cases {
            #expect(parse(bytes, step: 1).last == .failure(1002), "\(name)")
        }
        // Valid close codes pass.
        for code: UInt16 in [1000, 1001, 1003, 1007, 1011, 3000, 4999] {
            #expect(parse(clientFrame(0x8, [UInt8(code >> 8), UInt8(code & 0xFF)])) == [.close(code, [])])
        }
        #expect(parse(clientFrame(0x8, [])) == [.close(nil, [])])
    }

    @Test func textMustBeUTF8AcrossFragmentsOr1007() {
        // "é" (C3 A9) split across two fragments and across feeds is fine.
        let split = clientFrame(0x1, [0x41, 0xC3], fin: false) + clientFrame(0x0, [0xA9, 0x0A])
        #expect(parse(split, step: 1) == [.data([0x41, 0xC3, 0xA9, 0x0A])])
        for bad: [UInt8] in [[0xC3], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xFF], [0xE0, 0x80, 0x80]] {
            #expect(parse(clientFrame(0x1, bad)).last == .failure(1007), "\(bad)")
        }
        // Binary messages are not checked; a close reason is.
        #expect(parse(clientFrame(0x2, [0xFF])) == [.data([0xFF])])
        #expect(parse(clientFrame(0x8, [0x03, 0xE8, 0xFF])).last == .failure(1007))
    }

    @Test func aMessageOverTheLimitCloses1009BeforeItsBytesPass() {
        #expect(parse(clientFrame(0x2, [UInt8](repeating: 1, count: 100)), limit: 100) == [.data([UInt8](repeating: 1, count: 100))])
        #expect(parse(clientFrame(0x2, [UInt8](repeating: 1, count: 101)), limit: 100) == [.failure(1009)])
        // Across fragments: the second fragment's header is refused, nothing of it passes.
        let fragments = clientFrame(0x2, [UInt8](repeating: 1, count: 60), fin: false) + clientFrame(0x0, [UInt8](repeating: 2, count: 60))
        #expect(parse(fragments, limit: 100) == [.data([UInt8](repeating: 1, count: 60)), .failure(1009)])
    }

    @Test func aFailedParserStaysFailed() {
        var parser = WebSocketFrameParser(maxMessageBytes: 100)
        func feed(_ bytes: [UInt8]) -> UInt16? {
            var copy = bytes
            let failure = copy.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) -> WebSocketFailure? in
                do {
                    try parser.feed(raw) { _ in }
                    return nil
                } catch {
                    return error as? WebSocketFailure
                }
            }
            return failure?.closeCode
        }
        #expect(feed(clientFrame(0x1, [0x41], masked: false)) == 1002)
        #expect(feed(clientFrame(0x1, [0x41])) == 1002)
    }

    @Test func serverFramesAreUnmaskedAndTextOnlyWhenUTF8() {
        var buffer: [UInt8] = []
        Array("OK 1\n".utf8).withUnsafeBytes { WebSocketFrameEncoder.appendMessage($0, to: &buffer) }
        #expect(buffer == [0x81, 5] + Array("OK 1\n".utf8))
        buffer = []
        [UInt8]([0x4D, 0xFF, 0x0A]).withUnsafeBytes { WebSocketFrameEncoder.appendMessage($0, to: &buffer) }
        #expect(buffer == [0x82, 3, 0x4D, 0xFF, 0x0A])
        for (length, header) in [(125, [0x82, 125]), (126, [0x82, 126, 0, 126]), (65_536, [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0])] {
            buffer = []
            let payload = [UInt8](repeating: 0xFF, count: length)
            payload.withUnsafeBytes { WebSocketFrameEncoder.appendMessage($0, to: &buffer) }
            #expect(Array(buffer.prefix(header.count)) == header.map(UInt8.init))
            #expect(buffer.count == header.count + length)
        }
        buffer = []
        WebSocketFrameEncoder.appendClose(code: 1009, reason: "too big", to: &buffer)
        #expect(buffer == [0x88, 9, 0x03, 0xF1] + Array("too big".utf8))
        buffer = []
        WebSocketFrameEncoder.appendClose(code: 1000, reason: String(repeating: "é", count: 100), to: &buffer)
        #expect(buffer[1] <= 125 && buffer.count == 2 + Int(buffer[1]))
        #expect(String(validating: buffer[4...], as: UTF8.self) != nil, "cut at a character boundary")
        buffer = []
        WebSocketFrameEncoder.appendPong([1, 2, 3], to: &buffer)
        #expect(buffer == [0x8A, 3, 1, 2, 3])
    }
}
