// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Broker",
    products: [
        .library(name: "Broker", targets: ["Broker"]),
    ],
    targets: [
        .target(name: "Broker", path: "Sources/Broker"),
        .executableTarget(name: "channel-bench", dependencies: ["Broker"], path: "Sources/channel-bench"),
        .testTarget(name: "ChannelsTests", dependencies: ["Broker"], path: "Tests/ChannelsTests"),
    ],
    swiftLanguageModes: [.v6]
)
