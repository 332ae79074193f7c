// The authentication token in force: from `auth_token_file`, else `auth_token`.

/// Resolves the token clients must send with `AUTH`.
///
/// Guarantees: the token is never part of an error's text; a token file's
/// surrounding whitespace (a trailing newline) is ignored; a file that cannot
/// be read, is empty, or holds a token with inner spaces is refused.
public enum AuthToken {
    /// The token, or nil when authentication is off.
    public static func resolve(_ config: BrokerConfig, files: ConfigFileAccess = .live) throws(ConfigError) -> String? {
        if !config.authTokenFile.isEmpty {
            let path = config.authTokenFile
            let token = try files.readSecret(path, key: "auth_token_file")
            guard !token.isEmpty, case .success = ValueParsers.token(token) else {
                throw .unreadableFile(file: path, reason: "auth_token_file: expected one token of printable ASCII without spaces (the value is not shown)")
            }
            return token
        }
        return config.authToken.isEmpty ? nil : config.authToken
    }

    /// Compares a presented token with the expected one in time that depends
    /// only on their lengths, not on where they differ.
    public static func matches(_ presented: UnsafeRawBufferPointer, _ expected: [UInt8]) -> Bool {
        var difference = UInt(bitPattern: presented.count ^ expected.count)
        let length = max(presented.count, expected.count)
        for index in 0..<length {
            let a = index < presented.count ? presented[index] : 0
            let b = index < expected.count ? expected[index] : 0
            difference |= UInt(a ^ b)
        }
        return difference == 0
    }
}

extension ConfigFileAccess {
    /// The secret a file named by `key` holds (a token, a password), without the whitespace
    /// around it (a trailing newline); an unreadable file is refused naming the file and the
    /// key, never the value.
    func readSecret(_ path: String, key: String) throws(ConfigError) -> String {
        switch read(path) {
        case let .failure(failure):
            throw .unreadableFile(file: path, reason: "\(key): \(failure.reason)")
        case let .success(text):
            return String(text.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
        }
    }
}
