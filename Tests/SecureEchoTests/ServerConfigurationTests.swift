import Testing
@testable import SecureEcho
@testable import SecureEchoLoop
@testable import SecureEchoSystem
@testable import SecureEchoTLS

@Suite("ServerConfiguration")
struct ServerConfigurationTests {
    @Test("defaults follow the CLI contract")
    func defaults() throws {
        let configuration = ServerConfiguration()
        #expect(configuration.hosts == ["127.0.0.1"])
        #expect(configuration.tlsPort == 8443)
        #expect(configuration.plainPort == 8000)
        #expect(configuration.mode == .line)
        #expect(configuration.maxLine == 65536)
        #expect(configuration.tls.certificates == [.ephemeral])
        #expect(configuration.tls.minimumVersion == .tls12)
        #expect(configuration.tls.resumption)
        #expect(configuration.maxConnections == 10000)
        #expect(configuration.handshakeTimeout == 10)
        #expect(configuration.idleTimeout == 300)
        try configuration.validate()
    }

    @Test("disabling both listeners is refused")
    func nothingToServe() {
        var configuration = ServerConfiguration()
        configuration.tlsPort = nil
        configuration.plainPort = nil
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
    }

    @Test("max-line out of range names the flag", arguments: [0, -1, ServerConfiguration.maxLineLimit + 1])
    func badMaxLine(value: Int) {
        var configuration = ServerConfiguration()
        configuration.maxLine = value
        #expect {
            try configuration.validate()
        } throws: { error in
            (error as? ConfigurationError)?.description.contains("--max-line") == true
        }
    }

    @Test("non-positive or NaN timeouts are refused", arguments: [0.0, -3.0, Double.nan])
    func badTimeouts(value: Double) {
        var configuration = ServerConfiguration()
        configuration.idleTimeout = value
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
        configuration = ServerConfiguration()
        configuration.handshakeTimeout = value
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
    }
}
