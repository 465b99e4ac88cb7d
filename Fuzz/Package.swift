// swift-tools-version:6.0
// libFuzzer targets for secure-echo. Built and run by scripts/fuzz.sh, never by the main build:
//   swift build --package-path Fuzz --sanitize=fuzzer --sanitize=address
// They use the library's internal types through @testable import, which debug builds allow.
import PackageDescription

let fuzzerFlags: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "secure-echo-fuzz",
    dependencies: [.package(name: "secure-echo", path: "..")],
    targets: [
        .executableTarget(
            name: "FuzzLineEcho",
            dependencies: [.product(name: "SecureEcho", package: "secure-echo")],
            swiftSettings: fuzzerFlags),
        .executableTarget(
            name: "FuzzProxyHeader",
            dependencies: [.product(name: "SecureEcho", package: "secure-echo")],
            swiftSettings: fuzzerFlags),
        .executableTarget(
            name: "FuzzClientHello",
            dependencies: [.product(name: "SecureEcho", package: "secure-echo")],
            swiftSettings: fuzzerFlags),
        .executableTarget(
            name: "FuzzHTTPRequest",
            dependencies: [.product(name: "SecureEcho", package: "secure-echo")],
            swiftSettings: fuzzerFlags),
        .executableTarget(
            name: "FuzzConnection",
            dependencies: [.product(name: "SecureEcho", package: "secure-echo")],
            swiftSettings: fuzzerFlags),
    ],
    swiftLanguageModes: [.v6]
)
