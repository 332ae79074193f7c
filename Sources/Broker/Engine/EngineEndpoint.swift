// From the `engine` and `engine_password_file` keys to the Redis the cluster engine connects to.

/// Resolves the Redis endpoint of `engine redis://...`.
///
/// Guarantees: the password is never part of an error's text; a password file's
/// surrounding whitespace (a trailing newline) is ignored; a file that cannot be read or
/// is empty is refused, naming the file and the key.
enum EngineEndpoint {
    /// The endpoint, or nil for `engine local`.
    static func resolve(_ config: BrokerConfig, files: ConfigFileAccess = .live) throws(ConfigError) -> RedisEndpoint? {
        guard case let .redis(host, port, database) = config.engine else { return nil }
        var endpoint = RedisEndpoint(host: host, port: port, database: database)
        if !config.enginePasswordFile.isEmpty {
            let path = config.enginePasswordFile
            let password = try files.readSecret(path, key: "engine_password_file")
            guard !password.isEmpty else {
                throw .unreadableFile(file: path, reason: "engine_password_file: the file is empty (the value is not shown)")
            }
            endpoint.password = Array(password.utf8)
        }
        return endpoint
    }
}
