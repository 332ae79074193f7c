// Why a TLS operation failed, as text fit for a log line or an error reply.

/// A TLS failure: the library could not be loaded, a certificate or key could not be used, a
/// handshake was refused, or a connection broke. The text names the file or the reason OpenSSL
/// gave; it never holds key material.
public struct TLSError: Error, CustomStringConvertible, Sendable, Equatable {
    public let reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}
