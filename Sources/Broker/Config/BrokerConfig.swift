#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The daemon's complete, validated configuration.
///
/// Guarantees: `BrokerConfig()` holds the documented built-in defaults, and
/// every value produced by the configuration file parser or the command-line
/// parser lies inside the range that key's descriptor in `ConfigKey.all`
/// documents (the parsers reject anything else). Values assigned directly in
/// code are not re-validated. Field names are the Swift spelling of the keys;
/// the key table (`ConfigKey.all`) maps them to their file and flag names.
public struct BrokerConfig: Sendable, Equatable {
    /// `host`: IPv4 or IPv6 address literal to listen on.
    public var host: String = "127.0.0.1"
    /// `port`: TCP port to listen on; 0 picks a free port.
    public var port: Int = 7400
    /// `threads`: worker threads; defaults to the number of online CPUs.
    public var threads: Int = BrokerConfig.defaultThreads
    /// `capacity`: messages kept per topic ring (applies to new topics).
    public var capacity: Int = 65_536
    /// `max_ring_bytes`: bytes of messages one topic holds at most (applies to new topics).
    public var maxRingBytes: Int = 64 << 20
    /// `max_held_bytes`: bytes of messages all topics together hold at most.
    public var maxHeldBytes: Int = 1 << 30
    /// `linger_ms`: how long a topic without subscription lives on; 0 = freed at once.
    public var lingerMs: Int = 60_000
    /// `max_payload_bytes`: the largest `BPUB` payload.
    public var maxPayloadBytes: Int = 1 << 20
    /// `max_connections`: 0 means limited only by the open-file limit.
    public var maxConnections: Int = 0
    /// `max_subscriptions_per_connection`.
    public var maxSubscriptionsPerConnection: Int = 10_000
    /// `max_topics`.
    public var maxTopics: Int = 1_000_000
    /// `max_line_bytes`: longest protocol line accepted.
    public var maxLineBytes: Int = 65_536
    /// `idle_timeout_ms`: 0 turns the idle timeout off.
    public var idleTimeoutMs: Int = 60_000
    /// `shutdown_grace_ms`: time connections get to drain on shutdown.
    public var shutdownGraceMs: Int = 5_000
    /// `tcp_keepalive_s`: keepalive idle seconds for new connections; 0 = off.
    public var tcpKeepaliveS: Int = 60
    /// `idle_poll_us`: longest adaptive poll before an idle loop sleeps; 0 = off.
    public var idlePollUs: Int = 100
    /// `log_level`: least severe message that is logged.
    public var logLevel: LogLevel = .info
    /// `stats_interval_ms`: period of the `$SYS.stats` line; 0 = off.
    public var statsIntervalMs: Int = 10_000
    /// `metrics_port`: the Prometheus HTTP port; 0 = off. Another name for `http_port`.
    public var metricsPort: Int = 0
    /// `http_port`: the HTTP listener (WebSocket at `/ws`, `/metrics`, `/healthz`); 0 = off.
    public var httpPort: Int = 0

    /// `tls_port`: the line protocol over TLS on this port; 0 = off.
    public var tlsPort: Int = 0
    /// `https_port`: the HTTP listener over TLS (`wss://`, `https://`); 0 = off.
    public var httpsPort: Int = 0
    /// `tls_cert_file`: the TLS listeners' certificate chain (PEM); empty = TLS off.
    public var tlsCertFile: String = ""
    /// `tls_key_file`: the private key of `tls_cert_file` (PEM).
    public var tlsKeyFile: String = ""
    /// `tls_client_ca_file`: when set, TLS clients must present a certificate this CA signed.
    public var tlsClientCAFile: String = ""
    /// `tls_handshake_timeout_ms`: how long a TLS client has to complete its handshake.
    public var tlsHandshakeTimeoutMs: Int = 10_000
    /// `plaintext`: whether `port` and `http_port` listen; false leaves only the TLS listeners.
    public var plaintext: Bool = true

    /// The HTTP listener's port: `http_port`, else `metrics_port` (0: none).
    public var httpListenerPort: Int { httpPort != 0 ? httpPort : metricsPort }
    /// `metrics_top_topics`: cap on per-topic metric series.
    public var metricsTopTopics: Int = 20
    /// `auth_token`: the token clients must send with AUTH; empty = no authentication.
    public var authToken: String = ""
    /// `auth_token_file`: a file holding the token; empty = none.
    public var authTokenFile: String = ""
    /// `acl_file`: users and their publish/subscribe permissions; empty = none.
    public var aclFile: String = ""
    /// `engine`: where topics are kept (this process, or a Redis shared by several brokers).
    public var engine: EngineSetting = .local
    /// `engine_password_file`: a file holding the password of Redis's `default` user; empty = none.
    public var enginePasswordFile: String = ""

    /// The built-in defaults.
    public init() {}

    /// Upper bound for `threads`.
    public static let maxThreads = 4096

    /// The number of online CPUs (`sysconf(_SC_NPROCESSORS_ONLN)`), clamped to
    /// `1...maxThreads`; 1 if the system cannot tell.
    public static let defaultThreads: Int = {
        let online = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        return min(max(online, 1), maxThreads)
    }()
}
