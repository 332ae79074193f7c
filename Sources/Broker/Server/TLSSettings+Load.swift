// Loading the TLS listeners' credentials: the system's OpenSSL, then the certificate, key and client CAs.
import TLS

extension TLSSettings {
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
