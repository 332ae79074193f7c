// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Broker",
    products: [
        .library(name: "Broker", targets: ["Broker"]),
    ],
    targets: [
        .target(name: "Broker", path: "Sources/Broker"),
        .testTarget(name: "ConfigTests", dependencies: ["Broker"], path: "Tests/ConfigTests"),
    ],
    swiftLanguageModes: [.v6]
)
