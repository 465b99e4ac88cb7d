// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "secure-echo",
    products: [
        .executable(name: "secure-echo", targets: ["secure-echo"]),
        .executable(name: "secure-echo-bench", targets: ["secure-echo-bench"]),
        // For the fuzz package (Fuzz/) and tools built on the same loop and TLS code.
        .library(name: "SecureEcho", targets: ["SecureEcho"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]
        ),
        // Linux headers (epoll, eventfd) that the Glibc module leaves out.
        .systemLibrary(name: "CSystem"),
        .target(
            name: "SecureEcho",
            dependencies: [
                "COpenSSL",
                "CSystem",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "secure-echo",
            dependencies: [
                "SecureEcho",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "secure-echo-bench",
            dependencies: [
                "SecureEcho",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "SecureEchoTests",
            dependencies: ["SecureEcho", "COpenSSL"]
        ),
        .testTarget(
            name: "SecureEchoIntegrationTests",
            dependencies: ["SecureEcho", "COpenSSL", "CSystem", "secure-echo", "secure-echo-bench"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
