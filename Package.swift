// swift-tools-version:6.0
// The broker's package: no dependencies beyond the Swift toolchain.
import PackageDescription

let package = Package(
    name: "Broker",
    products: [
        .library(name: "Protocol", targets: ["Protocol"]),
    ],
    targets: [
        // The wire format of ../shared/PROTOCOL.md: framing, parsing, encoding. No I/O.
        .target(name: "Protocol"),
        // Throughput of the framer and command parser (release mode).
        .executableTarget(name: "codec-bench", dependencies: ["Protocol"]),
        .testTarget(name: "ProtocolTests", dependencies: ["Protocol"]),
    ],
    swiftLanguageModes: [.v6]
)
