// swift-tools-version:6.0
// The broker's package: no dependencies beyond the Swift toolchain.
//
// No unsafe flags: SwiftPM refuses a package that uses them as a dependency required by
// version (scripts/ci-versioned-dependency.sh checks it). Release builds used to pass
// -enforce-exclusivity=unchecked, because run-time exclusivity checks cost 40 % of the
// delivery loop's instructions; the checks are now avoided where they were measured
// (callgrind, docs/bench/callgrind.md): `@exclusivity(unchecked)` on the loop-thread-only
// stored properties of the delivery path (Connection.output and .ready; EventLoop.connections,
// .wokenCursors and .dirtyForDelivery), and Message reads its length through the buffer's
// header pointer. Every other class property and global keeps its run-time checks.
import PackageDescription

let package = Package(
    name: "Broker",
    products: [
        .library(name: "Protocol", targets: ["Protocol"]),
        .library(name: "Broker", targets: ["Broker"]),
        .executable(name: "broker-server", targets: ["broker-server"]),
        .library(name: "BrokerClient", targets: ["BrokerClient"]),
        .executable(name: "broker-cli", targets: ["broker-cli"]),
    ],
    targets: [
        // The wire format of ../shared/PROTOCOL.md: framing, parsing, encoding. No I/O.
        .target(name: "Protocol"),
        // Redis's wire format (RESP2 and RESP3): commands written, replies read in pieces within limits. No I/O.
        .target(name: "RESP"),
        // The package's one lock: a value behind a pthread mutex (visible to ThreadSanitizer, unlike
        // Synchronization.Mutex). Every user imports it explicitly; nothing re-exports it.
        .target(name: "Locks"),
        // The channel family after tokio::sync: broadcast (the topics' rings), mpsc, oneshot, watch.
        // Depends only on Locks. The hot paths are @inlinable: Broker and channel-bench get them
        // specialized for their value types and inlined, as if the channels were in their module.
        .target(name: "Channels", dependencies: ["Locks"]),
        // System headers Glibc does not export to Swift (epoll, eventfd, signalfd).
        .target(name: "CBrokerShim"),
        // The system layer of server and client: one errno funnel, owned descriptors, sockets, epoll, signals.
        .target(name: "Posix", dependencies: ["CBrokerShim"]),
        // TLS through the system's OpenSSL 3, loaded at run time by the shim (nothing needed to build).
        .target(name: "TLS", dependencies: ["CBrokerShim"]),
        // The daemon's core: reactor, sessions, command core, topics, server, metrics, configuration.
        .target(name: "Broker", dependencies: ["Protocol", "CBrokerShim", "Channels", "Locks", "Posix", "RESP", "TLS"]),
        // The daemon's entry point: configuration, signals, the server.
        .executableTarget(name: "broker-server", dependencies: ["Broker", "Posix"]),
        // The channel family beside tokio's (release mode; see scripts/bench-channels.sh).
        .executableTarget(name: "channel-bench", dependencies: ["Channels", "Locks"]),
        // Throughput of the framer and command parser (release mode).
        .executableTarget(name: "codec-bench", dependencies: ["Protocol"]),
        .testTarget(name: "ProtocolTests", dependencies: ["Protocol"]),
        .testTarget(name: "RESPTests", dependencies: ["RESP"]),
        // The cluster engine's pure parts: SHA-1, the Redis keys, script, replies and stream entries. No sockets.
        .testTarget(name: "EngineTests", dependencies: ["Broker", "RESP"]),
        // The system layer: the errno funnel, error text, descriptor ownership, loopback sockets.
        .testTarget(name: "PosixTests", dependencies: ["Posix", "CBrokerShim"]),
        // TLS over socket pairs: handshakes, verification, reads and writes that wait, the dev certificates.
        .testTarget(name: "TLSTests", dependencies: ["TLS", "Posix"]),
        .testTarget(name: "ConfigTests", dependencies: ["Broker"]),
        // The channels alone, no broker: lag and close semantics, cancellation, wakers, batched reads.
        .testTarget(name: "ChannelsTests", dependencies: ["Channels", "Locks"]),
        // The metrics endpoint's pure parts: HTTP request reader, routing, exposition format. No sockets.
        .testTarget(name: "MetricsTests", dependencies: ["Broker"]),
        // End to end: real TCP against an in-process server and the built broker-server binary.
        // The Redis connection against a real redis-server (scripts/ci-redis.sh; skipped, with the reason, without it).
        .testTarget(name: "BrokerServerTests", dependencies: ["Broker", "Locks", "Protocol", "Posix", "RESP", "TLS"]),
        // Every row and guarantee of PROTOCOL.md version 1 against the command core in memory: no sockets, no threads.
        .testTarget(name: "CoreTests", dependencies: ["Broker", "Locks", "Protocol", "Posix"]),
        // Talking to the broker from Swift: connect, publish (single and pipelined), subscribe, ping.
        .target(name: "BrokerClient", dependencies: ["Protocol", "Posix", "TLS"]),
        // The command-line client: pub, sub, ping, bench.
        .executableTarget(name: "broker-cli", dependencies: ["BrokerClient", "Locks", "Protocol"]),
        // broker-cli's argument parsing, output formats and help (unit), and end to end against broker-server.
        .testTarget(name: "CLITests", dependencies: ["broker-cli", "BrokerClient", "Locks", "Protocol"]),
    ],
    swiftLanguageModes: [.v6]
)
