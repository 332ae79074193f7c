extension ConfigKey {
    /// Every configuration key, in the order help text, documentation and the
    /// shipped `conf/broker.conf` list them. This is the one place a key is
    /// declared: name, default (from `BrokerConfig()`), meaning, live reload,
    /// and parser.
    public static let all: [ConfigKey] = [
        ConfigKey("host", \.host, valueName: "ADDRESS", reloadsLive: false,
                  doc: "IPv4 or IPv6 address literal to listen on, e.g. 127.0.0.1, 0.0.0.0 or ::1.",
                  parse: ValueParsers.ipLiteral, render: { $0 }),
        .integer("port", \.port, range: 0...65535, valueName: "PORT", reloadsLive: false,
                 doc: "TCP port to listen on, 0 to 65535; 0 picks a free port."),
        .integer("threads", \.threads, range: 1...BrokerConfig.maxThreads, reloadsLive: false,
                 doc: "Worker threads, 1 to \(BrokerConfig.maxThreads).",
                 defaultDescription: "number of online CPUs"),
        .integer("capacity", \.capacity, range: 1...(1 << 24), reloadsLive: true,
                 doc: "Messages kept per topic ring, 1 to \(1 << 24); a change applies to topics created afterwards."),
        .integer("max_connections", \.maxConnections, range: 0...(1 << 24), reloadsLive: true,
                 doc: "Most simultaneous client connections, 0 to \(1 << 24); 0 means limited only by the open-file limit."),
        .integer("max_subscriptions_per_connection", \.maxSubscriptionsPerConnection, range: 1...(1 << 24),
                 reloadsLive: true,
                 doc: "Most subscriptions one connection may hold, 1 to \(1 << 24)."),
        .integer("max_topics", \.maxTopics, range: 1...(1 << 28), reloadsLive: true,
                 doc: "Most topics the broker keeps at once, 1 to \(1 << 28)."),
        .integer("max_line_bytes", \.maxLineBytes, range: 64...(64 << 20), valueName: "BYTES", reloadsLive: true,
                 doc: "Longest protocol line accepted, in bytes, 64 to \(64 << 20)."),
        .integer("idle_timeout_ms", \.idleTimeoutMs, range: 0...86_400_000, valueName: "MS", reloadsLive: true,
                 doc: "Close a connection idle this long, in milliseconds, 0 to 86400000; 0 turns it off."),
        .integer("shutdown_grace_ms", \.shutdownGraceMs, range: 0...600_000, valueName: "MS", reloadsLive: true,
                 doc: "On SIGTERM, how long connections may drain before they are closed, in milliseconds, 0 to 600000."),
        .integer("tcp_keepalive_s", \.tcpKeepaliveS, range: 0...32767, valueName: "SECONDS", reloadsLive: true,
                 doc: "TCP keepalive idle time for new connections, in seconds, 0 to 32767; 0 turns keepalive off."),
        ConfigKey("log_level", \.logLevel, valueName: "LEVEL", reloadsLive: true,
                  doc: "Least severe message logged: debug, info, warn or error.",
                  parse: ValueParsers.logLevel, render: { $0.rawValue }),
    ]
}
