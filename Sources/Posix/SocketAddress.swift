// IPv4/IPv6 socket addresses: parsing a host literal, and printing `ip:port` / `[ip]:port`.
import CBrokerShim
import Glibc

/// An IPv4 or IPv6 address with a port, as the kernel takes it. A value (any thread).
public struct SocketAddress: Sendable, CustomStringConvertible {
    /// The raw address (sockaddr_in or sockaddr_in6 inside a sockaddr_storage).
    var storage: sockaddr_storage
    /// The length of the address inside `storage`.
    var length: socklen_t

    /// Parses an IPv4 or IPv6 literal (`127.0.0.1`, `::1`); nil if it is neither.
    public init?(host: String, port: Int) {
        var storage = sockaddr_storage()
        var length = socklen_t(0)
        let parsed: Bool = withUnsafeMutableBytes(of: &storage) { raw in
            if host.contains(":") {
                var address = sockaddr_in6()
                address.sin6_family = sa_family_t(AF_INET6)
                address.sin6_port = in_port_t(UInt16(truncatingIfNeeded: port)).bigEndian
                guard inet_pton(AF_INET6, host, &address.sin6_addr) == 1 else { return false }
                raw.storeBytes(of: address, as: sockaddr_in6.self)
                length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            } else {
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = in_port_t(UInt16(truncatingIfNeeded: port)).bigEndian
                guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { return false }
                raw.storeBytes(of: address, as: sockaddr_in.self)
                length = socklen_t(MemoryLayout<sockaddr_in>.size)
            }
            return true
        }
        guard parsed else { return nil }
        self.storage = storage
        self.length = length
    }

    init(storage: sockaddr_storage, length: socklen_t) {
        self.storage = storage
        self.length = length
    }

    /// Copies an address the kernel or `getaddrinfo` handed out.
    init(_ address: UnsafePointer<sockaddr>, length: socklen_t) {
        var storage = sockaddr_storage()
        let length = min(length, socklen_t(MemoryLayout<sockaddr_storage>.size))
        withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: UnsafeRawBufferPointer(start: address, count: Int(length))) }
        self.init(storage: storage, length: length)
    }

    /// Runs `body` with the address as the `sockaddr` pointer and length the socket calls take.
    func withSockaddr<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
        withUnsafePointer(to: storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }

    /// The address family (AF_INET or AF_INET6).
    public var family: Int32 { Int32(storage.ss_family) }

    /// The port, in host byte order.
    public var port: Int {
        withUnsafeBytes(of: storage) { raw in
            if family == AF_INET6 {
                return Int(UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port))
            }
            return Int(UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port))
        }
    }

    /// The address without the port (`127.0.0.1`, `::1`).
    public var ip: String {
        withText(port: false)
    }

    /// `ip:port`, with brackets around an IPv6 address (`[::1]:7400`).
    ///
    /// Written into one stack buffer (IPv4 and the port digit by digit, IPv6 by `inet_ntop`) and made a
    /// `String` once: every accepted connection names its peer this way, and the
    /// interpolations it replaced cost about 4,100 instructions a connection (callgrind, churn).
    public var description: String {
        withText(port: true)
    }

    /// The text of ``ip`` or ``description``: at most 1 + 45 (`INET6_ADDRSTRLEN` − 1) + 1 + 1 + 5
    /// bytes, so 64 bytes of stack always hold it.
    private func withText(port withPort: Bool) -> String {
        var room: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        let isSix = family == AF_INET6
        let port = self.port
        return withUnsafeMutableBytes(of: &room) { out -> String in
            guard let base = out.baseAddress else { return "" }
            var count = 0
            if isSix && withPort {
                out[0] = UInt8(ascii: "[")
                count = 1
            }
            func appendDecimal(_ value: Int) {  // an octet or a port: 0 to 65535
                var digits = 1
                var rest = value / 10
                while rest > 0 { digits += 1; rest /= 10 }
                rest = value
                for index in stride(from: count + digits - 1, through: count, by: -1) {
                    out[index] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest % 10)
                    rest /= 10
                }
                count += digits
            }
            if isSix {
                let written: UnsafePointer<CChar>? = withUnsafeBytes(of: storage) { raw in
                    var address = raw.load(as: sockaddr_in6.self).sin6_addr
                    // Room for the text and its NUL, leaving the bracket, the colon and the port.
                    return inet_ntop(AF_INET6, &address, (base + count).assumingMemoryBound(to: CChar.self),
                                     socklen_t(out.count - count - 8))
                }
                if written != nil {
                    while count < out.count - 8 && out[count] != 0 { count += 1 }
                }
            } else {
                // Dotted decimal by hand (glibc's inet_ntop formats IPv4 with sprintf).
                let octets = withUnsafeBytes(of: storage) { raw in
                    withUnsafeBytes(of: raw.load(as: sockaddr_in.self).sin_addr) { (Int($0[0]), Int($0[1]), Int($0[2]), Int($0[3])) }
                }
                appendDecimal(octets.0)
                out[count] = UInt8(ascii: "."); count += 1
                appendDecimal(octets.1)
                out[count] = UInt8(ascii: "."); count += 1
                appendDecimal(octets.2)
                out[count] = UInt8(ascii: "."); count += 1
                appendDecimal(octets.3)
            }
            if withPort {
                if isSix {
                    out[count] = UInt8(ascii: "]")
                    count += 1
                }
                out[count] = UInt8(ascii: ":")
                count += 1
                appendDecimal(port)
            }
            return String(decoding: UnsafeRawBufferPointer(rebasing: out[0..<count]), as: UTF8.self)
        }
    }

    /// Whether this is a loopback address (127.0.0.0/8 or ::1).
    public var isLoopback: Bool {
        withUnsafeBytes(of: storage) { raw in
            if family == AF_INET6 {
                let bytes = withUnsafeBytes(of: raw.load(as: sockaddr_in6.self).sin6_addr) { Array($0) }
                return bytes == [UInt8](repeating: 0, count: 15) + [1]
            }
            return UInt32(bigEndian: raw.load(as: sockaddr_in.self).sin_addr.s_addr) >> 24 == 127
        }
    }
}
