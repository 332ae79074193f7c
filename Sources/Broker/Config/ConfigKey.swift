/// One configuration key: its file name, flag, default, documentation,
/// how a reload applies it, and how to parse and validate a value for it.
///
/// Guarantees: `ConfigKey.all` is the single list of keys. The file parser,
/// the command-line parser, the help text, the reload plan and the tests are
/// all driven by it, so adding a key means adding one field to `BrokerConfig`
/// and one entry to `ConfigKey.all` (plus, for a key that reloads live, the
/// `LiveSettings` field its ``applyPath`` names). `apply` either stores a
/// validated value or leaves the configuration untouched and returns the reason.
public struct ConfigKey: Sendable {
    /// The key as written in the configuration file, e.g. `max_line_bytes`.
    public let name: String
    /// Placeholder for the value in help text, e.g. `BYTES`.
    public let valueName: String
    /// One or two sentences saying what the key means (no default, no reload
    /// information; those are separate fields).
    public let doc: String
    /// How a reload (SIGHUP) applies a change to this key: after a restart, or
    /// live and by which path.
    public let applyPath: ApplyPath
    /// The default as a human reads it, e.g. `7400` or `number of online CPUs`.
    public let defaultDescription: String

    private let assign: @Sendable (String, inout BrokerConfig) -> InvalidValue?
    private let renderValue: @Sendable (BrokerConfig) -> String
    private let sameValue: @Sendable (BrokerConfig, BrokerConfig) -> Bool
    private let copyValue: @Sendable (BrokerConfig, inout BrokerConfig) -> Void

    init<Value: Equatable & Sendable>(
        _ name: String,
        _ keyPath: WritableKeyPath<BrokerConfig, Value> & Sendable,
        valueName: String,
        applied applyPath: ApplyPath,
        doc: String,
        defaultDescription: String? = nil,
        parse: @escaping @Sendable (String) -> Result<Value, InvalidValue>,
        render: @escaping @Sendable (Value) -> String
    ) {
        self.name = name
        self.valueName = valueName
        self.applyPath = applyPath
        self.doc = doc
        self.defaultDescription = defaultDescription ?? render(BrokerConfig()[keyPath: keyPath])
        self.assign = { text, config in
            switch parse(text) {
            case let .success(value):
                config[keyPath: keyPath] = value
                return nil
            case let .failure(invalid):
                return invalid
            }
        }
        self.renderValue = { render($0[keyPath: keyPath]) }
        self.sameValue = { $0[keyPath: keyPath] == $1[keyPath: keyPath] }
        self.copyValue = { source, target in target[keyPath: keyPath] = source[keyPath: keyPath] }
    }

    static func integer(
        _ name: String,
        _ keyPath: WritableKeyPath<BrokerConfig, Int> & Sendable,
        range: ClosedRange<Int>,
        valueName: String = "N",
        applied applyPath: ApplyPath,
        doc: String,
        defaultDescription: String? = nil
    ) -> ConfigKey {
        ConfigKey(name, keyPath, valueName: valueName, applied: applyPath, doc: doc,
                  defaultDescription: defaultDescription,
                  parse: { ValueParsers.integer($0, in: range) },
                  render: { String($0) })
    }

    /// Whether a reload (SIGHUP) applies a change to this key without a restart.
    public var reloadsLive: Bool { applyPath.reloadsLive }

    /// The command-line flag for this key: underscores become dashes.
    public var flag: String {
        "--" + name.replacingUnderscores()
    }

    /// Parses `text` and stores it in `config`; on failure returns the reason
    /// (e.g. `expected an integer from 0 to 65535, got 'x'`) and changes nothing.
    public func apply(_ text: String, to config: inout BrokerConfig) -> String? {
        assign(text, &config)?.reason
    }

    /// This key's value in `config`, spelled as the file parser accepts it.
    public func render(_ config: BrokerConfig) -> String {
        renderValue(config)
    }

    /// Whether `a` and `b` agree on this key.
    public func isSame(in a: BrokerConfig, and b: BrokerConfig) -> Bool {
        sameValue(a, b)
    }

    /// Copies this key's value from `source` into `target`.
    public func copy(from source: BrokerConfig, to target: inout BrokerConfig) {
        copyValue(source, &target)
    }

    /// The descriptor for a file key name, or nil.
    public static func named(_ name: String) -> ConfigKey? {
        all.first { $0.name == name }
    }

    /// The descriptor for a flag spelling such as `--max-line-bytes`, or nil.
    public static func forFlag(_ flag: String) -> ConfigKey? {
        all.first { $0.flag == flag }
    }
}

extension String {
    func replacingUnderscores() -> String {
        String(map { $0 == "_" ? "-" : $0 })
    }
}
