// The settings and credentials TLS connections are made from: one per listener or client.
import CBrokerShim

/// An OpenSSL context: TLS 1.2 at least, its certificate and key, and what it verifies of peers.
///
/// Immutable once made, so connections may be made from it on any thread. A reload makes a new
/// context; connections made from the old one keep it (OpenSSL counts their references).
public final class TLSContext: @unchecked Sendable {
    // @unchecked Sendable: the context is never changed after it is made, and OpenSSL's
    // SSL_new on a shared context is thread-safe.

    let pointer: UnsafeMutableRawPointer
    /// Whether connections made from it are server ends.
    public let isServer: Bool

    private init(pointer: UnsafeMutableRawPointer, isServer: Bool) {
        self.pointer = pointer
        self.isServer = isServer
    }

    deinit { cbroker_tls_context_free(pointer) }

    /// A server context with the PEM certificate chain of `certificateFile` and the key of
    /// `keyFile`; with `clientCAFile`, every client must present a certificate that it signed.
    public static func server(certificateFile: String, keyFile: String, clientCAFile: String?) throws(TLSError) -> TLSContext {
        var message = [CChar](repeating: 0, count: 1024)
        let made: UnsafeMutableRawPointer? = if let clientCAFile {
            cbroker_tls_server_context(certificateFile, keyFile, clientCAFile, &message, message.count)
        } else {
            cbroker_tls_server_context(certificateFile, keyFile, nil, &message, message.count)
        }
        guard let made else { throw TLSError(text(of: message)) }
        return TLSContext(pointer: made, isServer: true)
    }

    /// A client context: the server's certificate is verified against `caFile` (nil: the
    /// system's CA store) unless `verify` is false; `certificateFile` and `keyFile` are sent
    /// when the server asks for a client certificate.
    public static func client(caFile: String?, certificateFile: String?, keyFile: String?,
                              verify: Bool = true) throws(TLSError) -> TLSContext {
        if (certificateFile == nil) != (keyFile == nil) {
            throw TLSError("a client certificate needs its key, and a key its certificate")
        }
        var message = [CChar](repeating: 0, count: 1024)
        let made = withOptionalCString(caFile) { ca in
            withOptionalCString(certificateFile) { certificate in
                withOptionalCString(keyFile) { key in
                    cbroker_tls_client_context(ca, certificate, key, verify ? 1 : 0, &message, message.count)
                }
            }
        }
        guard let made else { throw TLSError(text(of: message)) }
        return TLSContext(pointer: made, isServer: false)
    }
}

/// Calls `body` with a C string of `value`, or NULL when it is nil.
func withOptionalCString<Result>(_ value: String?, _ body: (UnsafePointer<CChar>?) -> Result) -> Result {
    guard let value else { return body(nil) }
    return value.withCString { body($0) }
}
