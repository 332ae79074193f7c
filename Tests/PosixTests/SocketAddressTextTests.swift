import Glibc
import Testing
@testable import Posix

/// ``SocketAddress/description`` and ``SocketAddress/ip``: the text a log line and the API show.
@Suite struct SocketAddressTextTests {
    @Test(arguments: [
        ("127.0.0.1", 7400, "127.0.0.1:7400", "127.0.0.1"),
        ("0.0.0.0", 0, "0.0.0.0:0", "0.0.0.0"),
        ("255.255.255.255", 65535, "255.255.255.255:65535", "255.255.255.255"),
        ("10.0.0.1", 10, "10.0.0.1:10", "10.0.0.1"),
        ("::1", 7400, "[::1]:7400", "::1"),
        ("::", 1, "[::]:1", "::"),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
         "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("::ffff:192.168.100.200", 54321, "[::ffff:192.168.100.200]:54321", "::ffff:192.168.100.200"),
        ("2001:db8::8a2e:370:7334", 100, "[2001:db8::8a2e:370:7334]:100", "2001:db8::8a2e:370:7334"),
    ])
    func knownAddresses(host: String, port: Int, description: String, ip: String) throws {
        let address = try #require(SocketAddress(host: host, port: port))
        #expect(address.description == description)
        #expect(address.ip == ip)
        #expect(address.port == port)
    }

    /// Random addresses of both families against the C library's own text and a decimal port.
    @Test func randomAddressesAgreeWithInetNtop() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<2_000 {
            let six = round % 2 == 1
            var bytes = [UInt8](repeating: 0, count: six ? 16 : 4)
            for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255, using: &generator) }
            if six && round % 6 == 1 { for index in 4..<12 { bytes[index] = 0 } }  // a run of zeros: `::`
            var text = [CChar](repeating: 0, count: 64)
            #expect(inet_ntop(six ? AF_INET6 : AF_INET, bytes, &text, 64) != nil)
            let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let port = Int.random(in: 0...65535, using: &generator)
            let address = try #require(SocketAddress(host: host, port: port))
            #expect(address.ip == host)
            #expect(address.description == (six ? "[\(host)]:\(port)" : "\(host):\(port)"))
        }
    }
}
