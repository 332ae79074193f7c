// swift-tools-version:6.0
// The broker's package: no dependencies beyond the Swift toolchain.
import PackageDescription

let package = Package(
    name: "Broker",
    products: [
        .library(name: "Protocol", targets: ["Protocol"]),
        .library(name: "Broker", targets: ["Broker"]),
        .executable(name: "broker-server", targets: ["broker-server"]),
    ],
    targets: [
        // The wire format of ../shared/PROTOCOL.md: framing, parsing, encoding. No I/O.
        .target(name: "Protocol"),
        // System headers Glibc does not export to Swift (epoll, eventfd, signalfd).
        .target(name: "CBrokerShim"),
        // The daemon's core: channels, topics, server, configuration.
        .target(name: "Broker", dependencies: ["Protocol", "CBrokerShim"]),
        // The daemon's entry point: configuration, signals, the server.
        .executableTarget(name: "broker-server", dependencies: ["Broker"]),
        // The channel family beside tokio's (release mode; see scripts/bench-channels.sh).
        .executableTarget(name: "channel-bench", dependencies: ["Broker"]),
        // Throughput of the framer and command parser (release mode).
        .executableTarget(name: "codec-bench", dependencies: ["Protocol"]),
        .testTarget(name: "ProtocolTests", dependencies: ["Protocol"]),
        .testTarget(name: "ConfigTests", dependencies: ["Broker"]),
        .testTarget(name: "ChannelsTests", dependencies: ["Broker"]),
        // The metrics endpoint's pure parts: HTTP request reader, routing, exposition format. No sockets.
        .testTarget(name: "MetricsTests", dependencies: ["Broker"]),
        // End to end: real TCP against an in-process server and the built broker-server binary.
        .testTarget(name: "BrokerServerTests", dependencies: ["Broker", "Protocol"]),
    ],
    swiftLanguageModes: [.v6]
)
