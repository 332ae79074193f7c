/// How much the daemon logs.
///
/// Guarantees: the four levels are ordered `debug < info < warn < error`, and
/// `rawValue` is exactly the spelling accepted in the configuration file and on
/// the command line (`debug`, `info`, `warn`, `error`, lowercase only).
public enum LogLevel: String, Sendable, Equatable, Hashable, Comparable, CaseIterable {
    case debug
    case info
    case warn
    case error

    var rank: Int {
        switch self {
        case .debug: 0
        case .info: 1
        case .warn: 2
        case .error: 3
        }
    }

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool {
        lhs.rank < rhs.rank
    }
}
