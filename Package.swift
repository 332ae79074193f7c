// swift-tools-version:6.0
// The broker's package: no dependencies beyond the Swift toolchain.
import PackageDescription

let package = Package(
    name: "Broker",
    products: [
        .library(name: "Protocol", targets: ["Protocol"]),
        .library(name: "BrokerClient", targets: ["BrokerClient"]),
        .executable(name: "broker-cli", targets: ["broker-cli"]),
    ],
    targets: [
        // The wire format of ../shared/PROTOCOL.md: framing, parsing, encoding. No I/O.
        .target(name: "Protocol"),
        // Throughput of the framer and command parser (release mode).
        .executableTarget(name: "codec-bench", dependencies: ["Protocol"]),
        .testTarget(name: "ProtocolTests", dependencies: ["Protocol"]),
        // Talking to the broker from Swift: connect, publish (single and pipelined), subscribe, ping.
        .target(name: "BrokerClient", dependencies: ["Protocol"]),
        // The command-line client: pub, sub, ping, bench.
        .executableTarget(name: "broker-cli", dependencies: ["BrokerClient", "Protocol"]),
        // broker-cli's argument parsing, output formats and help (unit), and end to end against broker-server.
        .testTarget(name: "CLITests", dependencies: ["broker-cli", "BrokerClient", "Protocol"]),
    ],
    swiftLanguageModes: [.v6]
)
