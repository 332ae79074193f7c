// The TLS listeners' credentials in force: the files named by the configuration and the context made from them.
import TLS

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

    /// Loads the server context `config` names (nil when it names no certificate or key): the
    /// system's OpenSSL is loaded here, the first time. Errors name the key and the file, never
    /// what a key file holds.
    public static func load(_ config: BrokerConfig) throws(ConfigError) -> TLSContext? {
        guard isConfigured(config) else { return nil }
        if config.tlsCertFile.isEmpty {
            throw .unusableSetting(key: "tls_key_file", reason: "tls_key_file is set without tls_cert_file: set both")
        }
        if config.tlsKeyFile.isEmpty {
            throw .unusableSetting(key: "tls_cert_file", reason: "tls_cert_file is set without tls_key_file: set both")
        }
        do {
            try TLSLibrary.load()
        } catch {
            throw .unusableSetting(key: "tls_cert_file", reason: "TLS is configured but \(error.reason)")
        }
        do {
            return try TLSContext.server(certificateFile: config.tlsCertFile, keyFile: config.tlsKeyFile,
                                         clientCAFile: config.tlsClientCAFile.isEmpty ? nil : config.tlsClientCAFile)
        } catch {
            // OpenSSL's reason names the file it could not use.
            throw .unusableSetting(key: "tls", reason: error.reason)
        }
    }
}
