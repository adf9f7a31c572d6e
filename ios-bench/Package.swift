// swift-tools-version:6.0
// scenebench on Apple devices: the same suites as the Rust harness, measured with CoreML and
// uploaded as the harness's CSV schemas (docs/SCHEMAS.md). No third-party dependencies.
import PackageDescription

let package = Package(
    name: "SceneBench",
    platforms: [.iOS(.v16), .macOS(.v13)],
    products: [
        .library(name: "SceneBench", targets: ["SceneBench"]),
        .executable(name: "scenebench-ios-bench", targets: ["scenebench-ios-bench"]),
    ],
    targets: [
        .target(name: "SceneBench"),
        .executableTarget(name: "scenebench-ios-bench", dependencies: ["SceneBench"]),
        .testTarget(name: "SceneBenchTests", dependencies: ["SceneBench"]),
    ]
)
