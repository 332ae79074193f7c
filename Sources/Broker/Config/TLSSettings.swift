// The TLS listeners' credentials in force: the files named by the configuration and the context made from them.
// The fuzz build compiles this directory alone, with a stand-in for TLSContext (Fuzz/Config).
#if canImport(TLS)
import TLS
#endif

/// The certificate, key and client CA files of the TLS listeners, and the context loaded from
/// them (nil while TLS is not configured, or in settings built without loading files).
///
/// Guarantees: two values are equal when they name the same files and hold the same context
/// object, so a reload that re-reads unchanged paths still counts as a change (the files'
/// contents may have changed: a renewed certificate). Connections hold the context they were
/// accepted with; a new context applies to connections accepted afterwards.
public struct TLSSettings: Sendable, Equatable {
    public var certificateFile: String
    public var keyFile: String
    public var clientCAFile: String
    /// The server context, when the files were loaded.
    public var context: TLSContext?

    public init(_ config: BrokerConfig, context: TLSContext?) {
        certificateFile = config.tlsCertFile
        keyFile = config.tlsKeyFile
        clientCAFile = config.tlsClientCAFile
        self.context = context
    }

    /// Whether the configuration asks for TLS (a certificate or a key is named).
    public static func isConfigured(_ config: BrokerConfig) -> Bool {
        !config.tlsCertFile.isEmpty || !config.tlsKeyFile.isEmpty
    }

    public static func == (lhs: TLSSettings, rhs: TLSSettings) -> Bool {
        lhs.certificateFile == rhs.certificateFile && lhs.keyFile == rhs.keyFile && lhs.clientCAFile == rhs.clientCAFile
            && lhs.context === rhs.context
    }
}
