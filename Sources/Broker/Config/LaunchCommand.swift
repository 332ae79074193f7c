/// What `broker-server` was asked to do.
///
/// Guarantees: `.run` carries a fully validated configuration (file values,
/// then flags on top), the file it was read from (nil: built-in defaults), and
/// the keys set by flags, which a reload must keep (see
/// `BrokerConfig.reload(current:configPath:overriddenKeys:files:)`).
public enum LaunchCommand: Sendable, Equatable {
    case run(config: BrokerConfig, configPath: String?, overriddenKeys: Set<String>)
    /// Print this text to standard output and exit 0.
    case help(String)
    /// Print the version to standard output and exit 0.
    case version
}

/// Parses the `broker-server` command line.
///
/// Accepted: `--config PATH`, one flag per key (`--max-line-bytes N`, ...), each
/// as `--flag value` or `--flag=value`; `-h`/`--help`; `-V`/`--version`.
/// `--help` anywhere wins, then `--version`. Flags override the file. Without
/// `--config`, `conf/broker.conf` is read if it exists in the working
/// directory; otherwise the built-in defaults are used.
///
/// Guarantees: command-line mistakes (unknown flag, missing or bad value, a
/// flag given twice, a stray argument) throw `ConfigError.badFlag` (exit 64)
/// before any file is read; file problems throw `.badFileEntry` or
/// `.unreadableFile` (exit 78).
public enum BrokerCommandLine {
    /// The program name used in help text.
    public static let programName = "broker-server"
    /// The file read when no `--config` is given, relative to the working directory.
    public static let defaultConfigPath = "conf/broker.conf"
    /// The `--config` flag.
    public static let configFlag = "--config"

    /// - Parameter arguments: the arguments without the program name
    ///   (`CommandLine.arguments.dropFirst()`).
    public static func parse(
        _ arguments: some Sequence<String>,
        files: ConfigFileAccess = .live
    ) throws(ConfigError) -> LaunchCommand {
        let arguments = Array(arguments)
        if arguments.contains(where: { $0 == "--help" || $0 == "-h" }) {
            return .help(HelpText.text)
        }
        if arguments.contains(where: { $0 == "--version" || $0 == "-V" }) {
            return .version
        }

        var configPath: String?
        var flagValues = BrokerConfig()
        var overridden: Set<String> = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("--"), argument.count > 2 else {
                if argument.hasPrefix("-") && argument != "-" {
                    throw ConfigError.badFlag(flag: argument, reason: "unknown option (see --help)")
                }
                throw ConfigError.badFlag(flag: argument, reason: "unexpected argument (see --help)")
            }
            let flag: String
            let inlineValue: String?
            // Split at the first "=" byte, not Character: a value starting with a combining
            // mark would otherwise merge with the "=" into one Character (found by fuzzing).
            if let equals = argument.utf8.firstIndex(of: UInt8(ascii: "=")) {
                flag = String(decoding: argument.utf8[..<equals], as: UTF8.self)
                inlineValue = String(decoding: argument.utf8[argument.utf8.index(after: equals)...], as: UTF8.self)
            } else {
                flag = argument
                inlineValue = nil
            }

            let key = ConfigKey.forFlag(flag)
            guard key != nil || flag == configFlag else {
                throw ConfigError.badFlag(flag: flag, reason: "unknown option (see --help)")
            }
            let value: String
            if let inlineValue {
                value = inlineValue
            } else if index < arguments.count, !looksLikeFlag(arguments[index]) {
                value = arguments[index]
                index += 1
            } else {
                throw ConfigError.badFlag(flag: flag, reason: "missing value")
            }

            if let key {
                guard overridden.insert(key.name).inserted else {
                    throw ConfigError.badFlag(flag: flag, reason: "given more than once")
                }
                if let reason = key.apply(value, to: &flagValues) {
                    throw ConfigError.badFlag(flag: flag, reason: reason)
                }
            } else {
                guard configPath == nil else {
                    throw ConfigError.badFlag(flag: flag, reason: "given more than once")
                }
                guard !value.isEmpty else {
                    throw ConfigError.badFlag(flag: flag, reason: "missing value")
                }
                configPath = value
            }
        }

        if configPath == nil, files.exists(defaultConfigPath) {
            configPath = defaultConfigPath
        }
        var config = BrokerConfig()
        if let configPath {
            config = try ConfigLoader.load(path: configPath, files: files)
        }
        config = config.overriding(overridden, from: flagValues)
        return .run(config: config, configPath: configPath, overriddenKeys: overridden)
    }

    /// The startup log line saying where the configuration came from:
    /// `configuration file: <path>` or
    /// `configuration file: none (built-in defaults)`.
    public static func configSourceLine(configPath: String?) -> String {
        ConfigText.oneLine("configuration file: " + (configPath ?? "none (built-in defaults)"))
    }

    /// `-x` or `--xyz`, but not `-` alone.
    static func looksLikeFlag(_ argument: String) -> Bool {
        argument.hasPrefix("-") && argument.count > 1
    }
}

extension BrokerConfig {
    /// This configuration with the values of `keys` taken from `source`.
    /// Unknown key names are ignored.
    public func overriding(_ keys: Set<String>, from source: BrokerConfig) -> BrokerConfig {
        var result = self
        for key in ConfigKey.all where keys.contains(key.name) {
            key.copy(from: source, to: &result)
        }
        return result
    }
}
