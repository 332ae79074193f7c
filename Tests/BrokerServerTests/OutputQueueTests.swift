// The output queue writes replies and shared messages in order, whatever the socket takes at a time.
import Posix
import Glibc
import Testing
@testable import Broker

/// The iovecs and staging buffer a write gathers into (a loop's, in the server), freed with it.
private final class WriteBuffers {
    let vectors: UnsafeMutableBufferPointer<iovec>
    let staging = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 16)
    init(vectors count: Int) {
        vectors = .allocate(capacity: count)
        vectors.initialize(repeating: iovec())
    }
    deinit {
        vectors.deallocate()
        staging.deallocate()
    }
}

@Suite struct OutputQueueTests {
    /// A connected pair of non-blocking Unix stream sockets with small buffers.
    private func socketPair() throws -> (writer: Int32, reader: Int32) {
        var fds: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { throw ClientError("socketpair failed") }
        var small: Int32 = 4096
        _ = setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
        _ = fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK)
        return (fds[0], fds[1])
    }

    private func message(_ topic: String, _ payload: String) -> Message {
        Array(topic.utf8).withUnsafeBytes { t in Array(payload.utf8).withUnsafeBytes { Message.make(topic: t, payload: $0) } }
    }

    private func drain(_ fd: Int32, into received: inout [UInt8]) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { return }
            received.append(contentsOf: buffer[0..<count])
        }
    }

    /// Both framings: version 1 lines, and version 2 frames (whole ones for small
    /// payloads, a header then the payload for large ones).
    @Test(arguments: [false, true])
    func interleavedRepliesAndMessagesArriveInOrderThroughPartialWrites(sized: Bool) throws {
        let (writer, reader) = try socketPair()
        let writerSocket = SocketHandle(adopting: writer)  // closes the writer at the end
        defer { close(reader) }
        let buffers = WriteBuffers(vectors: 64)
        let (vectors, staging) = (buffers.vectors, buffers.staging)
        defer { withExtendedLifetime(buffers) {} }  // they are freed with it
        var rng = SystemRandomNumberGenerator()
        var queue = OutputQueue()
        var expected: [UInt8] = []
        var received: [UInt8] = []
        for round in 0..<300 {
            // A batch as the loop builds it: replies, a LAGGED line, runs of messages of mixed sizes.
            queue.appendControl { $0.append(contentsOf: Array("OK \(round)\n".utf8)) }
            expected += Array("OK \(round)\n".utf8)
            if queue.isEmpty || round % 3 == 0 {
                let count = Int.random(in: 1...40, using: &rng)
                let room = queue.reserveMessages(count)
                for index in 0..<count {
                    let size = [3, 30, 512, 513, 700, 2000].randomElement(using: &rng) ?? 3
                    let item = message("t.\(round)", String(repeating: Character(UnicodeScalar(UInt8(97 + index % 26))), count: size))
                    (room.baseAddress! + index).initialize(to: item)
                    if sized {
                        item.makeVersionTwoFrame(seq: UInt64(round * 100 + index + 1))
                        expected += Array("MSG t.\(round) \(round * 100 + index + 1) \(size)\n".utf8)
                        expected += Array(item.bytes.dropFirst(item.bytes.count - size - 1))
                    } else {
                        expected += Array(item.bytes)
                    }
                }
                queue.commitMessages(count, sized: sized)
                queue.appendControl { $0.append(contentsOf: Array("LAGGED t.\(round) 5\n".utf8)) }
                expected += Array("LAGGED t.\(round) 5\n".utf8)
            }
            // Write until the socket is full, read a little, repeat.
            var spins = 0
            while !queue.isEmpty && spins < 10_000 {
                spins += 1
                switch try queue.write(vectors: vectors, staging: staging, send: { pieces throws(SystemError) in try writerSocket.send(pieces: pieces) }) {
                case .done: continue
                case .wouldBlock: drain(reader, into: &received)
                }
            }
            let drained = queue.isEmpty
            #expect(drained)
        }
        drain(reader, into: &received)
        #expect(received.count == expected.count)
        #expect(received == expected)
        queue.removeAll()
    }

    /// The delivery path's way: small frames copied in (``OutputQueue/appendFrame(_:_:)``,
    /// in one piece or two), larger messages held (``OutputQueue/appendMessage(_:sized:)``),
    /// replies between them; everything arrives once and in order through partial writes.
    /// `lent`: the frames go into a scratch lent for each batch (as the loop's), which is
    /// overwritten after every write, as the next session's batch would.
    @Test(arguments: [false, true], [false, true])
    func copiedFramesHeldMessagesAndRepliesArriveInOrderThroughPartialWrites(sized: Bool, lent: Bool) throws {
        let (writer, reader) = try socketPair()
        let writerSocket = SocketHandle(adopting: writer)
        defer { close(reader) }
        let buffers = WriteBuffers(vectors: 16)
        let (vectors, staging) = (buffers.vectors, buffers.staging)
        defer { withExtendedLifetime(buffers) {} }  // they are freed with it
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { scratch.deallocate() }
        var rng = SystemRandomNumberGenerator()
        var queue = OutputQueue()
        var expected: [UInt8] = []
        var received: [UInt8] = []
        for round in 0..<300 {
            queue.appendControl { $0.append(contentsOf: Array("OK \(round)\n".utf8)) }
            expected += Array("OK \(round)\n".utf8)
            if queue.pendingFrameBytes == 0 && (queue.isEmpty || round % 3 == 0) {
                if lent { queue.lendFramesScratch(scratch) }
                for index in 0..<Int.random(in: 1...60, using: &rng) {
                    let size = [0, 3, 30, 400, 490, 513, 2000].randomElement(using: &rng) ?? 3
                    let item = message("t.\(round)", String(repeating: Character(UnicodeScalar(UInt8(97 + index % 26))), count: size))
                    if sized {
                        let seq = UInt64(round * 100 + index + 1)
                        item.makeVersionTwoFrame(seq: seq)
                        expected += Array("MSG t.\(round) \(seq) \(size)\n".utf8)
                        expected += Array(item.bytes.dropFirst(item.bytes.count - size - 1))
                        let (first, rest) = item.versionTwoPieces
                        if first.count + rest.count <= OutputQueue.stageLimit {
                            queue.appendFrame(first, rest)
                        } else {
                            queue.appendMessage(item, sized: true)
                        }
                    } else {
                        expected += Array(item.bytes)
                        if item.bytes.count <= OutputQueue.stageLimit {
                            queue.appendFrame(item.bytes, UnsafeRawBufferPointer(start: nil, count: 0))
                        } else {
                            queue.appendMessage(item, sized: false)
                        }
                    }
                    if index % 17 == 16 {
                        queue.appendControl { $0.append(contentsOf: Array("LAGGED t.\(round) \(index)\n".utf8)) }
                        expected += Array("LAGGED t.\(round) \(index)\n".utf8)
                    }
                }
            }
            var spins = 0
            while !queue.isEmpty && spins < 10_000 {
                spins += 1
                let outcome = try queue.write(vectors: vectors, staging: staging, send: { pieces throws(SystemError) in
                    try writerSocket.send(pieces: pieces)
                })
                queue.returnFramesScratch()  // as the session does after each write
                scratch.initializeMemory(as: UInt8.self, repeating: 0xEE)  // and the next batch reuses it
                switch outcome {
                case .done: continue
                case .wouldBlock: drain(reader, into: &received)
                }
            }
            let drained = queue.isEmpty
            let framesLeft = queue.pendingFrameBytes
            #expect(drained)
            #expect(framesLeft == 0)
        }
        drain(reader, into: &received)
        #expect(received.count == expected.count)
        #expect(received == expected)
    }

    /// A reply reserved before it is known (a publish another process answers) holds
    /// back everything after it, and goes out in its place once fulfilled.
    @Test func anAwaitedReplyHoldsBackWhatFollowsItUntilItIsFulfilled() throws {
        let (writer, reader) = try socketPair()
        let writerSocket = SocketHandle(adopting: writer)
        defer { close(reader) }
        let buffers = WriteBuffers(vectors: 16)
        let (vectors, staging) = (buffers.vectors, buffers.staging)
        defer { withExtendedLifetime(buffers) {} }  // they are freed with it
        var queue = OutputQueue()
        var received: [UInt8] = []
        func writeAll() throws {
            while !queue.isEmpty && !queue.isWaitingForReply {
                switch try queue.write(vectors: vectors, staging: staging, send: { pieces throws(SystemError) in
                    try writerSocket.send(pieces: pieces)
                }) {
                case let .done(count): if count == 0 { return }
                case .wouldBlock: drain(reader, into: &received)
                }
            }
        }
        queue.appendControl { $0.append(contentsOf: Array("OK 1\n".utf8)) }
        let first = queue.reserveReply()
        queue.appendControl { $0.append(contentsOf: Array("PONG\n".utf8)) }
        let item = message("t", "x")
        queue.appendFrame(item.bytes, UnsafeRawBufferPointer(start: nil, count: 0))
        let second = queue.reserveReply()
        queue.appendControl { $0.append(contentsOf: Array("PONG 2\n".utf8)) }
        try writeAll()
        drain(reader, into: &received)
        #expect(String(decoding: received, as: UTF8.self) == "OK 1\n")
        let waiting = queue.isWaitingForReply
        #expect(waiting)
        #expect(queue.pendingControlBytes == 12)  // PONG and PONG 2 wait; the awaited ones count once fulfilled
        // The second is answered first: still nothing passes the first.
        queue.fulfilReply(second) { $0.append(contentsOf: Array("OK 3\n".utf8)) }
        try writeAll()
        drain(reader, into: &received)
        #expect(String(decoding: received, as: UTF8.self) == "OK 1\n")
        queue.fulfilReply(first) { $0.append(contentsOf: Array("ERR engine-unavailable Redis is unavailable\n".utf8)) }
        queue.fulfilReply(first) { $0.append(contentsOf: Array("twice\n".utf8)) }  // not awaited any more: ignored
        try writeAll()
        drain(reader, into: &received)
        #expect(String(decoding: received, as: UTF8.self)
            == "OK 1\nERR engine-unavailable Redis is unavailable\nPONG\nMSG t x\nOK 3\nPONG 2\n")
        let empty = queue.isEmpty
        let left = queue.pendingControlBytes
        #expect(empty && left == 0)
    }
}
