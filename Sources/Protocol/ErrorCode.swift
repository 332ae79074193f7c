// The error codes of `ERR <code> <text>` and `BYE <code> <text>`, and the error a parsed line can carry.

/// A wire error code: one lowercase word with dashes, as in `ERR bad-topic ...`.
///
/// Guarantees: every code of the protocol (PROTOCOL.md, its version 2, and the
/// project's extensions in docs/protocol.md) is a static member here and listed in
/// ``known``, so no other file spells a code as a string; `ProtocolTests` pin each
/// member to its wire spelling. It is a string wrapper rather than an enum so that
/// a client can carry any code a broker sends, including ones it does not know.
/// `BYE` uses the same codes (`BYE shutting-down ...`).
public struct ErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// The verb is not known.
    public static let unknownCommand = ErrorCode(rawValue: "unknown-command")
    /// Too few or too many arguments for the verb.
    public static let badArguments = ErrorCode(rawValue: "bad-arguments")
    /// A topic or pattern breaks the naming rules.
    public static let badTopic = ErrorCode(rawValue: "bad-topic")
    /// A client `PUB` to a topic whose first level starts with `$`.
    public static let reservedTopic = ErrorCode(rawValue: "reserved-topic")
    /// The line passed `max_line_bytes`.
    public static let lineTooLong = ErrorCode(rawValue: "line-too-long")
    /// `UNSUB` of a string the connection has no subscription for.
    public static let notSubscribed = ErrorCode(rawValue: "not-subscribed")
    /// A `SUB` beyond `max_subscriptions_per_connection`.
    public static let tooManySubscriptions = ErrorCode(rawValue: "too-many-subscriptions")
    /// `BYE` code: the broker is shutting down.
    public static let shuttingDown = ErrorCode(rawValue: "shutting-down")
    /// `BYE` code: the connection limit was reached.
    public static let tooManyConnections = ErrorCode(rawValue: "too-many-connections")
    /// `BYE` code: a partial line was left incomplete for too long.
    public static let idleTimeout = ErrorCode(rawValue: "idle-timeout")

    // Extensions (docs/protocol.md, "Error codes").

    /// A command other than `AUTH` or `QUIT` before a successful `AUTH`.
    public static let authRequired = ErrorCode(rawValue: "auth-required")
    /// `AUTH` with a wrong token (`ERR`, then `BYE` with the same code).
    public static let authFailed = ErrorCode(rawValue: "auth-failed")
    /// `STATS <topic>` for a topic that does not exist.
    public static let noSuchTopic = ErrorCode(rawValue: "no-such-topic")
    /// Creating a topic would pass `max_topics`.
    public static let tooManyTopics = ErrorCode(rawValue: "too-many-topics")

    // Version 2 (PROTOCOL.md, "Error codes added by version 2"). The broker sends them on
    // connections of either version: `HELLO` and `BPUB` are accepted in both.

    /// `HELLO` with a version the broker does not speak.
    public static let unsupportedVersion = ErrorCode(rawValue: "unsupported-version")
    /// A `BPUB` size over `max_payload_bytes`.
    public static let payloadTooLarge = ErrorCode(rawValue: "payload-too-large")
    /// `BYE` code: a `BPUB` whose size or line ending makes the byte stream unreadable.
    public static let badFraming = ErrorCode(rawValue: "bad-framing")

    // Extension (docs/protocol.md): a broker whose publishes are ordered by another process.

    /// A publish the broker could not hand to the process that orders publishes (the
    /// cluster engine's Redis): nothing was published.
    public static let engineUnavailable = ErrorCode(rawValue: "engine-unavailable")
    /// `BYE` code: a subscription's stream was replaced by the process that keeps it (the
    /// cluster engine's Redis lost the topic's keys: a new epoch); resume with `from=`.
    public static let streamReset = ErrorCode(rawValue: "stream-reset")

    // Extension (docs/security.md): users and permissions (`acl_file`).

    /// A `PUB`, `BPUB`, `SUB` or `STATS <topic>` outside the logged-in user's grant.
    public static let permissionDenied = ErrorCode(rawValue: "permission-denied")

    /// Every code above, in the order declared.
    public static let known: [ErrorCode] = [
        .unknownCommand, .badArguments, .badTopic, .reservedTopic, .lineTooLong, .notSubscribed,
        .tooManySubscriptions, .shuttingDown, .tooManyConnections, .idleTimeout,
        .authRequired, .authFailed, .noSuchTopic, .tooManyTopics,
        .unsupportedVersion, .payloadTooLarge, .badFraming, .engineUnavailable,
        .streamReset, .permissionDenied,
    ]
}

/// Why a client line was refused: the code and the free text of its `ERR` reply,
/// and whether the byte stream can still be read after it.
///
/// The text is never empty and never contains LF or CR, so it can be written as
/// one frame as it is. ``losesFraming`` is true only for a `BPUB` line whose size
/// cannot be read: the broker cannot know where the next line starts, so after the
/// `ERR` it writes `BYE bad-framing ...` and closes (PROTOCOL.md, "Payloads of any bytes").
public struct ProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: ErrorCode
    public let text: String
    /// True when the input after this line cannot be framed any more.
    public let losesFraming: Bool

    /// An error after which the connection stays usable.
    public init(_ code: ErrorCode, _ text: String) {
        self.init(code, text, losesFraming: false)
    }

    public init(_ code: ErrorCode, _ text: String, losesFraming: Bool) {
        self.code = code
        self.text = text
        self.losesFraming = losesFraming
    }

    public var description: String { "\(code.rawValue) \(text)" }
}
