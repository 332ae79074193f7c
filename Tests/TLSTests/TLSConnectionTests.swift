// TLSConnection over a socket pair: handshakes, verification failures, data both ways, waiting writes.
import Glibc
import TLS
import XCTest

final class TLSConnectionTests: XCTestCase {
    override func setUpWithError() throws {
        // The library is part of every Debian system; without it these tests cannot say anything.
        if !TLSLibrary.isAvailable {
            if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail("libssl.so.3 is missing") }
            throw XCTSkip("libssl.so.3 is missing: TLS cannot be tested")
        }
    }

    private func established(clientCA: String? = nil, clientCertificate: String? = nil,
                             bufferBytes: Int32? = nil) throws -> (SocketPair, TLSConnection, TLSConnection) {
        let pair = try SocketPair(bufferBytes: bufferBytes)
        let server = try TLSConnection(context: try Fixture.server(clientCA: clientCA), fd: pair.server)
        let client = try TLSConnection(context: try Fixture.client(certificate: clientCertificate), fd: pair.client, hostName: "localhost")
        let failures = handshake(server, client, pair: pair)
        XCTAssertNil(failures.server)
        XCTAssertNil(failures.client)
        return (pair, server, client)
    }

    func testHandshakeAgreesOnTLS12OrLaterAndCarriesBytesBothWays() throws {
        let (pair, server, client) = try established()
        XCTAssertTrue(server.isEstablished && client.isEstablished)
        XCTAssertTrue(client.protocolDescription.hasPrefix("TLSv1.3") || client.protocolDescription.hasPrefix("TLSv1.2"),
                      client.protocolDescription)
        XCTAssertNil(server.peerCommonName, "no client certificate was asked for")
        let hello = Array("PING\n".utf8)
        XCTAssertEqual(try hello.withUnsafeBytes { try client.write($0) }, .done(5))
        var buffer = [UInt8](repeating: 0, count: 64)
        XCTAssertTrue(SocketPair.wait(pair.server, for: .wantRead))
        let step = try buffer.withUnsafeMutableBytes { try server.read(into: $0) }
        XCTAssertEqual(step, .done(5))
        XCTAssertEqual(Array(buffer[0..<5]), hello)
        // Nothing more: the read waits for the socket.
        XCTAssertEqual(try buffer.withUnsafeMutableBytes { try server.read(into: $0) }, .wantRead)
    }

    func testPiecesAreWrittenInOrderThroughFullSocketsWithRetriedWrites() throws {
        let (pair, server, client) = try established(bufferBytes: 4096)
        // 600 pieces of mixed sizes (small ones are gathered, large ones written in place).
        var expected: [UInt8] = []
        var pieces: [[UInt8]] = []
        for index in 0..<600 {
            let size = index % 7 == 0 ? 20_000 + index : 1 + (index * 37) % 300
            let piece = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
            pieces.append(piece)
            expected += piece
        }
        let staging = UnsafeMutableRawBufferPointer.allocate(byteCount: TLSConnection.recordBytes, alignment: 16)
        defer { staging.deallocate() }
        let buffers = pieces.map { piece -> UnsafeMutableRawBufferPointer in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: piece.count, alignment: 1)
            buffer.copyBytes(from: piece)
            return buffer
        }
        defer { buffers.forEach { $0.deallocate() } }
        var received: [UInt8] = []
        var sent = 0
        var waits = 0
        let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { readBuffer.deallocate() }
        while received.count < expected.count {
            if sent < expected.count {
                // The iovecs of what is not yet sent, rebuilt on each attempt as a queue would.
                var vectors: [iovec] = []
                var skip = sent
                for buffer in buffers {
                    if skip >= buffer.count { skip -= buffer.count; continue }
                    vectors.append(iovec(iov_base: buffer.baseAddress! + skip, iov_len: buffer.count - skip))
                    skip = 0
                }
                let step = try vectors.withUnsafeBufferPointer { try client.write(pieces: $0, staging: staging) }
                switch step {
                case let .done(count): sent += count
                case .wantWrite, .wantRead: waits += 1
                case .closed: XCTFail("closed while writing")
                }
            }
            while case let .done(count) = try server.read(into: readBuffer) {
                received += readBuffer[0..<count]
            }
        }
        XCTAssertEqual(received.count, expected.count)
        XCTAssertTrue(received == expected, "bytes differ or are out of order")
        XCTAssertGreaterThan(waits, 0, "the small socket buffers made writes wait")
        _ = pair
    }

    func testClientRefusesAServerSignedByAnotherCA() throws {
        let pair = try SocketPair()
        let server = try TLSConnection(context: try Fixture.server(), fd: pair.server)
        let client = try TLSConnection(context: try Fixture.client(ca: "other-ca.pem"), fd: pair.client, hostName: "localhost")
        let failures = handshake(server, client, pair: pair)
        XCTAssertTrue(failures.client?.reason.contains("certificate verification failed") == true, "\(String(describing: failures.client))")
        XCTAssertNotNil(failures.server)
    }

    func testClientRefusesAnExpiredCertificate() throws {
        let pair = try SocketPair()
        let server = try TLSConnection(context: try Fixture.server(certificate: "expired"), fd: pair.server)
        let client = try TLSConnection(context: try Fixture.client(), fd: pair.client, hostName: "localhost")
        let failures = handshake(server, client, pair: pair)
        XCTAssertTrue(failures.client?.reason.contains("expired") == true, "\(String(describing: failures.client))")
    }

    func testClientChecksTheNameItAskedFor() throws {
        for (name, accepted) in [("localhost", true), ("127.0.0.1", true), ("broker.example.com", false), ("10.1.2.3", false)] {
            let pair = try SocketPair()
            let server = try TLSConnection(context: try Fixture.server(), fd: pair.server)
            let client = try TLSConnection(context: try Fixture.client(), fd: pair.client, hostName: name)
            let failures = handshake(server, client, pair: pair)
            XCTAssertEqual(failures.client == nil, accepted, "\(name): \(String(describing: failures.client))")
        }
    }

    func testUnverifiedClientAcceptsAnyCertificate() throws {
        let pair = try SocketPair()
        let server = try TLSConnection(context: try Fixture.server(certificate: "expired"), fd: pair.server)
        let client = try TLSConnection(context: try Fixture.client(ca: nil, verify: false), fd: pair.client, hostName: "elsewhere")
        let failures = handshake(server, client, pair: pair)
        XCTAssertNil(failures.client)
        XCTAssertNil(failures.server)
    }

    func testRequiredClientCertificateNamesThePeer() throws {
        let (_, server, client) = try established(clientCA: "ca.pem", clientCertificate: "client")
        XCTAssertEqual(server.peerCommonName, "alice")
        XCTAssertEqual(client.peerCommonName, "localhost", "the client verified the server")
    }

    func testRequiredClientCertificateMissingOrUntrustedIsRefused() throws {
        for certificate in [nil, "untrusted-client"] as [String?] {
            let pair = try SocketPair()
            let server = try TLSConnection(context: try Fixture.server(clientCA: "ca.pem"), fd: pair.server)
            let client = try TLSConnection(context: try Fixture.client(certificate: certificate), fd: pair.client, hostName: "localhost")
            let failures = handshake(server, client, pair: pair)
            XCTAssertNotNil(failures.server, "\(String(describing: certificate))")
            XCTAssertNil(server.peerCommonName)
        }
    }

    func testPlaintextSentToATLSServerFailsTheHandshake() throws {
        let pair = try SocketPair()
        let server = try TLSConnection(context: try Fixture.server(), fd: pair.server)
        let line = Array("PUB news hello\n".utf8)
        XCTAssertEqual(line.withUnsafeBytes { send(pair.client, $0.baseAddress, $0.count, 0) }, line.count)
        XCTAssertThrowsError(try server.handshake()) { error in
            XCTAssertFalse((error as? TLSError)?.reason.isEmpty ?? true)
        }
    }

    func testPeerThatCloseReadsAsClosed() throws {
        let (pair, server, client) = try established()
        client.shutdown()
        var buffer = [UInt8](repeating: 0, count: 16)
        XCTAssertTrue(SocketPair.wait(pair.server, for: .wantRead))
        XCTAssertEqual(try buffer.withUnsafeMutableBytes { try server.read(into: $0) }, .closed)
        // A peer that just goes (no close_notify) ends the stream the same way.
        let (pair2, server2, _) = try established()
        shutdown(pair2.client, Int32(SHUT_RDWR))
        XCTAssertEqual(try buffer.withUnsafeMutableBytes { try server2.read(into: $0) }, .closed)
    }

    func testContextErrorsNameTheFile() {
        XCTAssertThrowsError(try TLSContext.server(certificateFile: "/nonexistent/cert.pem", keyFile: Fixture.path("server.key"),
                                                   clientCAFile: nil)) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/cert.pem"), "\(error)")
        }
        XCTAssertThrowsError(try TLSContext.server(certificateFile: Fixture.path("server.pem"), keyFile: Fixture.path("client.key"),
                                                   clientCAFile: nil)) { error in
            XCTAssertTrue("\(error)".contains("client.key") && "\(error)".contains("mismatch"), "\(error)")
        }
        XCTAssertThrowsError(try TLSContext.client(caFile: nil, certificateFile: Fixture.path("client.pem"), keyFile: nil))
    }
}
