// What the TLS end-to-end tests share: the fixture certificates, contexts, a TLS client.
import Broker
import Foundation
import Glibc
import TLS
import Testing

/// The certificates of `Tests/Fixtures/tls` (made by scripts/dev-certs.sh).
enum TLSFixture {
    static let directory: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/tls").path
    }()

    static func path(_ name: String) -> String { "\(directory)/\(name)" }

    /// Whether OpenSSL 3 can be loaded; under CI its absence fails the test that asked.
    static func available(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        if TLSLibrary.isAvailable { return true }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            Issue.record("libssl.so.3 is missing", sourceLocation: sourceLocation)
        }
        return false
    }

    /// A client context trusting `ca` (a fixture name), presenting `certificate` (a fixture name) if given.
    static func client(ca: String = "ca.pem", certificate: String? = nil) throws -> TLSContext {
        try TLSContext.client(caFile: path(ca), certificateFile: certificate.map { path("\($0).pem") },
                              keyFile: certificate.map { path("\($0).key") })
    }

    /// A configuration change: TLS on an ephemeral-ish port with the fixture server certificate.
    static func configure(_ config: inout BrokerConfig, tlsPort: Int, certificate: String = "server", clientCA: String? = nil) {
        config.tlsPort = tlsPort
        config.tlsCertFile = path("\(certificate).pem")
        config.tlsKeyFile = path("\(certificate).key")
        config.tlsClientCAFile = clientCA.map(path) ?? ""
    }
}

/// A free loopback port: bound, read and released (the kernel does not hand it out again at once).
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ClientError("socket: errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw ClientError("bind: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}

extension InProcessBroker {
    /// The TLS listener's port.
    var tlsPort: Int { server.tlsAddress?.port ?? 0 }

    /// A client that completed a TLS handshake on the TLS listener.
    func connectTLS(_ context: TLSContext, hostName: String = "localhost") throws -> TestClient {
        let client = try TestClient(port: tlsPort)
        try client.startTLS(context, hostName: hostName)
        return client
    }
}
