import Glibc
import Logging
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

@Suite("Embedding the server")
struct EmbeddingTests {
    @Test("a host process that has not blocked the server's signals gets an error naming the fix, not a SIGTERM that kills it")
    func signalsNotRouted() throws {
        // On a thread that does not block them (the test runner's own threads may).
        let outcome = Locked<String>("not run")
        let thread = try LoopThread {
            var set = sigset_t()
            sigemptyset(&set)
            for signal in Signals.serverSignals { sigaddset(&set, signal) }
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
            var configuration = ServerConfiguration()
            configuration.tlsPort = 0
            configuration.plainPort = 0
            configuration.threads = 1
            do {
                _ = try EchoServer(configuration: configuration, logger: Logger(label: "test"))
                outcome.withLock { $0 = "started" }
            } catch {
                outcome.withLock { $0 = "\(error)" }
            }
        }
        thread.join()
        #expect(outcome.withLock { $0 } == SignalsNotRouted().description)
    }
}
