// The one error type of the client library: what went wrong, with the system's own text.
import Posix
import Protocol

/// Everything that can go wrong talking to a broker.
///
/// The `description` is a complete sentence fragment meant to be shown to a
/// person after a program name, e.g. `cannot connect to 127.0.0.1:7400: Connection refused`.
/// System failures carry the system's text for their `errno` (`strerror_r`).
public enum BrokerClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The host name could not be resolved (the text is `getaddrinfo`'s).
    case cannotResolve(address: String, reason: String)
    /// No connection could be made: refused, unreachable, or not within the connect timeout.
    case cannotConnect(address: String, reason: String)
    /// A system call on an established connection (or on a local file) failed.
    case system(call: String, errno: Int32, reason: String)
    /// The broker closed the connection without a `BYE` frame.
    case closed
    /// The broker closed the connection with `BYE <code> <text>`.
    case bye(code: ErrorCode, text: String)
    /// The broker answered a command with `ERR <code> <text>`.
    case refused(ProtocolError)
    /// The broker sent something this client does not understand, or a reply nothing asked for.
    case protocolViolation(String)
    /// No answer came within the time allowed.
    case timedOut(String)
    /// The broker refused the token sent with `AUTH` (`ERR auth-failed`); it closes the connection.
    case authenticationFailed
    /// The token given is empty or holds a space or a control character, so it cannot be sent.
    case invalidToken

    public var description: String {
        switch self {
        case let .cannotResolve(address, reason): "cannot resolve \(address): \(reason)"
        case let .cannotConnect(address, reason): "cannot connect to \(address): \(reason)"
        case let .system(call, _, reason): "\(call): \(reason)"
        case .closed: "connection closed by the broker"
        case let .bye(code, text): text.isEmpty ? "broker closed the connection: \(code)" : "broker closed the connection: \(code) \(text)"
        case let .refused(error): "\(error.code) \(error.text)"
        case let .protocolViolation(what): "protocol violation: \(what)"
        case let .timedOut(what): "timed out \(what)"
        case .authenticationFailed: "authentication failed"
        case .invalidToken: "invalid token (it must be one word of printable characters)"
        }
    }

    /// A `.system` error for a failed system call, with the system's text.
    init(_ error: SystemError) {
        self = .system(call: error.call, errno: error.errno, reason: error.reason)
    }
}

/// The system's text for an errno value (`strerror_r`, thread-safe), e.g. "Connection refused".
public func errorText(_ code: Int32) -> String {
    SystemError.text(errno: code)
}
