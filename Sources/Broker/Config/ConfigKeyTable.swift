// The table of configuration keys: the one place each key is declared.
import Protocol

extension ConfigKey {
    /// Every configuration key, in the order help text, documentation and the
    /// shipped `conf/broker.conf` list them. This is the one place a key is
    /// declared: name, default (from `BrokerConfig()`), meaning, how a reload
    /// applies it (`ApplyPath`), and parser.
    public static let all: [ConfigKey] = [
        ConfigKey("host", \.host, valueName: "ADDRESS", applied: .restart,
                  doc: "IPv4 or IPv6 address literal to listen on, e.g. 127.0.0.1, 0.0.0.0 or ::1.",
                  parse: ValueParsers.ipLiteral, render: { $0 }),
        .integer("port", \.port, range: 0...65535, valueName: "PORT", applied: .restart,
                 doc: "TCP port to listen on, 0 to 65535; 0 picks a free port."),
        .integer("threads", \.threads, range: 1...BrokerConfig.maxThreads, applied: .restart,
                 doc: "Worker threads, 1 to \(BrokerConfig.maxThreads).",
                 defaultDescription: "number of online CPUs"),
        .integer("capacity", \.capacity, range: 1...(1 << 24), applied: .liveForNewTopics(.capacity),
                 doc: "Messages kept per topic ring, 1 to \(1 << 24); a change applies to topics created afterwards."),
        .integer("max_connections", \.maxConnections, range: 0...(1 << 24), applied: .live(.maxConnections),
                 doc: "Most simultaneous client connections, 0 to \(1 << 24); 0 means limited only by the open-file limit."),
        .integer("max_subscriptions_per_connection", \.maxSubscriptionsPerConnection, range: 1...(1 << 24),
                 applied: .live(.maxSubscriptionsPerConnection),
                 doc: "Most subscriptions one connection may hold, 1 to \(1 << 24)."),
        .integer("max_topics", \.maxTopics, range: 1...(1 << 28), applied: .live(.maxTopics),
                 doc: "Most topics the broker keeps at once, 1 to \(1 << 28)."),
        .integer("max_line_bytes", \.maxLineBytes, range: 64...(64 << 20), valueName: "BYTES",
                 applied: .live(.maxLineBytes),
                 doc: "Longest protocol line accepted, in bytes, 64 to \(64 << 20)."),
        .integer("idle_timeout_ms", \.idleTimeoutMs, range: 0...86_400_000, valueName: "MS",
                 applied: .live(.idleTimeoutMs),
                 doc: "Close a connection idle this long, in milliseconds, 0 to 86400000; 0 turns it off."),
        .integer("shutdown_grace_ms", \.shutdownGraceMs, range: 0...600_000, valueName: "MS", applied: .atShutdown,
                 doc: "On SIGTERM, how long connections may drain before they are closed, in milliseconds, 0 to 600000."),
        .integer("tcp_keepalive_s", \.tcpKeepaliveS, range: 0...32767, valueName: "SECONDS",
                 applied: .liveForNewConnections(.tcpKeepaliveS),
                 doc: "TCP keepalive idle time for new connections, in seconds, 0 to 32767; 0 turns keepalive off."),
        .integer("idle_poll_us", \.idlePollUs, range: 0...1000, valueName: "MICROSECONDS", applied: .live(.idlePollUs),
                 doc: "Longest time an event loop keeps polling for work before it sleeps, in microseconds, 0 to 1000; adaptive (it polls only while events keep arriving closer together than this), 0 turns it off."),
        ConfigKey("log_level", \.logLevel, valueName: "LEVEL", applied: .live(.logLevel),
                  doc: "Least severe message logged: debug, info, warn or error.",
                  parse: ValueParsers.logLevel, render: { $0.rawValue }),
        .integer("stats_interval_ms", \.statsIntervalMs, range: 0...86_400_000, valueName: "MS",
                 applied: .live(.statsIntervalMs),
                 doc: "Publish the STATS line on \(SystemTopicName.stats) every this many milliseconds, 0 to 86400000; 0 turns it off."),
        .integer("metrics_port", \.metricsPort, range: 0...65535, valueName: "PORT", applied: .restart,
                 doc: "Serve Prometheus metrics (GET /metrics, GET /healthz) over HTTP on this port of host, 0 to 65535; 0 turns it off."),
        .integer("metrics_top_topics", \.metricsTopTopics, range: 0...10_000, applied: .live(.metricsTopTopics),
                 doc: "Per-topic metric series: at most this many topics, those with the most subscribers or lag, 0 to 10000."),
        ConfigKey("auth_token", \.authToken, valueName: "TOKEN", applied: .liveForNewConnections(.authToken),
                  doc: "When set, a client must send AUTH <token> before anything else; printable ASCII without spaces. Empty: no authentication.",
                  defaultDescription: "empty (off)",
                  parse: ValueParsers.token, render: { $0 }),
        ConfigKey("auth_token_file", \.authTokenFile, valueName: "PATH", applied: .liveForNewConnections(.authToken),
                  doc: "Read the token from this file (surrounding whitespace ignored) instead of writing it here; read at start and at each reload.",
                  defaultDescription: "empty (none)",
                  parse: ValueParsers.path, render: { $0 }),
    ]
}
