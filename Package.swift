// swift-tools-version:6.0
import PackageDescription

// Layers, each a target, arrows one way (the compiler refuses a cycle or a skipped import):
//
//   SecureEchoSystem   syscall funnel, Socket, addresses, typed errors, IOResult/Interest
//        ^
//   SecureEchoLoop     Poller + backends (epoll, poll, io_uring via CLiburing), EventLoop, timers, EventHandler
//        ^
//   SecureEchoTLS      the only target that imports COpenSSL: context, session, socket BIO
//        ^
//   SecureEcho         transports, connection, applications, listeners, server, configuration
//        ^
//   SecureEchoBench    the load generator behind secure-echo-bench
//
// The executables only parse flags and call into these.
let package = Package(
    name: "secure-echo",
    products: [
        .executable(name: "secure-echo", targets: ["secure-echo"]),
        .executable(name: "secure-echo-bench", targets: ["secure-echo-bench"]),
        // For the fuzz package (Fuzz/), which drives the connection state machine directly.
        .library(name: "SecureEcho", targets: ["SecureEcho", "SecureEchoLoop", "SecureEchoSystem", "SecureEchoTLS"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // The load generator's latency percentiles: bounded memory whatever the run's length.
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]
        ),
        // Linux headers (epoll, eventfd, signalfd) that the Glibc module leaves out.
        .systemLibrary(name: "CSystem"),
        // The io_uring poller's ring helpers (Debian's liburing-dev).
        .systemLibrary(name: "CLiburing", pkgConfig: "liburing", providers: [.apt(["liburing-dev"])]),
        .target(name: "SecureEchoSystem", dependencies: ["CSystem"]),
        .target(
            name: "SecureEchoLoop",
            dependencies: ["SecureEchoSystem", .target(name: "CLiburing", condition: .when(platforms: [.linux])),
                           .product(name: "Logging", package: "swift-log")]
        ),
        .target(name: "SecureEchoTLS", dependencies: ["SecureEchoSystem", "COpenSSL"]),
        .target(
            name: "SecureEcho",
            dependencies: ["SecureEchoSystem", "SecureEchoLoop", "SecureEchoTLS",
                           .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "SecureEchoBench",
            dependencies: ["SecureEchoSystem", "SecureEchoLoop", "SecureEchoTLS", "SecureEcho",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "Histogram", package: "hdrhistogram-swift")]
        ),
        .executableTarget(
            name: "secure-echo",
            dependencies: [
                "SecureEcho", "SecureEchoSystem", "SecureEchoLoop", "SecureEchoTLS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "secure-echo-bench",
            dependencies: [
                "SecureEchoBench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "SecureEchoTests",
            dependencies: ["SecureEcho", "SecureEchoSystem", "SecureEchoLoop", "SecureEchoTLS", "COpenSSL"]
        ),
        .testTarget(
            name: "SecureEchoIntegrationTests",
            dependencies: ["SecureEcho", "SecureEchoSystem", "SecureEchoLoop", "SecureEchoTLS", "SecureEchoBench",
                           "COpenSSL", "CSystem", "secure-echo", "secure-echo-bench"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
