// What a client's TLS checks and presents: `--tls`, `--ca`, `--cert`, `--key`, `--insecure`.

/// How a client speaks TLS to a broker (`tls://` and `wss://` endpoints, or `--tls`).
///
/// By default the broker's certificate is verified against the system's CA store and must name
/// the host connected to (a DNS name or an IP address). A value: part of an ``Endpoint``.
public struct TLSClientOptions: Hashable, Sendable {
    /// A PEM file of the CAs to trust instead of the system's (`--ca`).
    public var caFile: String?
    /// A PEM certificate to present when the broker asks for one (`--cert`), with its key (`--key`).
    public var certificateFile: String?
    public var keyFile: String?
    /// False skips the verification of the broker's certificate (`--insecure`): for tests only.
    public var verify: Bool

    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, verify: Bool = true) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.verify = verify
    }
}
