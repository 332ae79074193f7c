// swift-tools-version:6.0
// The broker's package: no dependencies beyond the Swift toolchain.
import PackageDescription

let package = Package(
    name: "Broker",
    products: [
        .library(name: "Protocol", targets: ["Protocol"]),
        .library(name: "Broker", targets: ["Broker"]),
    ],
    targets: [
        // The wire format of ../shared/PROTOCOL.md: framing, parsing, encoding. No I/O.
        .target(name: "Protocol"),
        // The daemon's core: configuration (and, as they land, channels, topics, server).
        .target(name: "Broker"),
        // Throughput of the framer and command parser (release mode).
        .executableTarget(name: "codec-bench", dependencies: ["Protocol"]),
        .testTarget(name: "ProtocolTests", dependencies: ["Protocol"]),
        .testTarget(name: "ConfigTests", dependencies: ["Broker"]),
        .testTarget(name: "ChannelsTests", dependencies: ["Broker"]),
    ],
    swiftLanguageModes: [.v6]
)
