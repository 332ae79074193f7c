// The users of acl_file: how each logs in and what each may publish and subscribe to.
// The fuzz build compiles the Protocol sources into the same module (scripts/fuzz.sh).
#if canImport(Protocol)
import Protocol
#endif

/// One user of the `acl_file`: how it logs in, and its grant.
///
/// Immutable and shared: every connection logged in as this user holds it, on any loop.
public final class UserGrant: Sendable, Equatable {
    public let name: String
    /// SHA-256 of the user's token (from `token_sha256`, or of the token in `token_file`); nil:
    /// the user logs in only with a client certificate.
    let tokenDigest: [UInt8]?
    /// Whether a verified client certificate whose common name is this user's name logs it in.
    public let certificateLogin: Bool
    public let publish: TopicRule
    public let subscribe: TopicRule

    init(name: String, tokenDigest: [UInt8]?, certificateLogin: Bool, publish: TopicRule, subscribe: TopicRule) {
        self.name = name
        self.tokenDigest = tokenDigest
        self.certificateLogin = certificateLogin
        self.publish = publish
        self.subscribe = subscribe
    }

    public static func == (lhs: UserGrant, rhs: UserGrant) -> Bool {
        lhs.name == rhs.name && lhs.tokenDigest == rhs.tokenDigest && lhs.certificateLogin == rhs.certificateLogin
            && lhs.publish == rhs.publish && lhs.subscribe == rhs.subscribe
    }

    /// Whether `token` is this user's: its SHA-256 compared in constant time.
    func accepts(token: UnsafeRawBufferPointer) -> Bool {
        guard let tokenDigest else { return false }
        let presented = SHA256.digest(of: token)
        return presented.withUnsafeBytes { AuthToken.matches($0, tokenDigest) }
    }

    /// Whether a `PUB` or `BPUB` to `topic` is allowed.
    public func mayPublish(_ topic: UnsafeRawBufferPointer) -> Bool { publish.permits(topic: topic) }

    /// Whether a `SUB` to `pattern` is allowed (false for a pattern that is not valid).
    public func maySubscribe(_ pattern: some Collection<UInt8>) -> Bool {
        guard let parsed = RulePattern(pattern) else { return false }
        return subscribe.permits(subscription: parsed)
    }
}

/// The users an `acl_file` names. With one configured, every connection must log in, as one of
/// them (`AUTH <user> <token>`, or a client certificate naming a user with `certificate on`) or
/// with `auth_token` (`AUTH <token>`: no limits); a logged-in user may publish and subscribe only
/// as its grant allows.
///
/// Immutable: a reload makes a new list, which the loops apply to open connections.
public final class AccessList: Sendable, Equatable {
    /// The file it was read from.
    public let file: String
    private let users: [String: UserGrant]

    init(file: String, users: [String: UserGrant]) {
        self.file = file
        self.users = users
    }

    public static func == (lhs: AccessList, rhs: AccessList) -> Bool {
        lhs.file == rhs.file && lhs.users == rhs.users
    }

    /// Every user's name, sorted.
    public var userNames: [String] { users.keys.sorted() }

    /// The user named `name`.
    public func user(_ name: String) -> UserGrant? { users[name] }

    /// The user `name` if `token` is its token.
    func authenticate(user name: UnsafeRawBufferPointer, token: UnsafeRawBufferPointer) -> UserGrant? {
        guard let grant = users[String(decoding: name, as: UTF8.self)], grant.accepts(token: token) else { return nil }
        return grant
    }

    /// The user a verified client certificate with common name `commonName` logs in as.
    func certificateUser(commonName: String) -> UserGrant? {
        guard let grant = users[commonName], grant.certificateLogin else { return nil }
        return grant
    }
}

/// The `acl_file` in force: its path and the list read from it (nil while none is configured,
/// or in settings built without reading files).
public struct AccessSettings: Sendable, Equatable {
    public var file: String
    public var list: AccessList?

    public init(file: String, list: AccessList?) {
        self.file = file
        self.list = list
    }

    public static func == (lhs: AccessSettings, rhs: AccessSettings) -> Bool {
        lhs.file == rhs.file && lhs.list === rhs.list
    }
}
