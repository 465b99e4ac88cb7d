// The command line: parses and validates flags into a ServerConfiguration, starts the
// server, prints the ready line. Nothing else lives here.
import ArgumentParser
import Logging
import SecureEcho
import SecureEchoLoop
import SecureEchoSystem
import SecureEchoTLS
#if canImport(Glibc)
import Glibc
#endif

@main
struct SecureEchoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secure-echo",
        abstract: "TLS and plain TCP echo server on one non-blocking event loop.",
        discussion: """
            Every byte a client sends comes back unchanged. Line mode echoes each line (ending in \\n, \
            so \\r\\n too) once it is complete; stream mode echoes bytes as they arrive. Once every \
            listener is bound, one line goes to stdout: ready tls=HOST:PORT plain=HOST:PORT (and \
            metrics=HOST:PORT with --metrics-port). Under systemd socket activation the sockets it \
            passes (named tls, plain, metrics, report) are served instead of the ports. \
            Logs go to stderr. Exit codes: 64 for bad usage, 1 for runtime failures.
            """,
        version: "secure-echo \(EchoServer.version), \(TLSContext.libraryVersion)"
    )

    @Option(help: ArgumentHelp("Address to listen on (IPv4 or IPv6 literal, or a host name); repeatable. (default: 127.0.0.1)",
                               discussion: "`--host ::` alone serves IPv4 and IPv6 clients (dual stack)."))
    var host: [String] = []

    @Option(help: "TLS echo port; 0 lets the OS choose.")
    var tlsPort: UInt16 = 8443

    @Option(help: "Plain TCP echo port; 0 lets the OS choose.")
    var plainPort: UInt16 = 8000

    @Flag(help: "Do not serve TLS.")
    var noTls = false

    @Flag(help: "Do not serve plain TCP.")
    var noPlain = false

    @Option(help: ArgumentHelp("PEM certificate chain, leaf first (default: an ephemeral self-signed certificate).",
                               discussion: "Repeatable with --key: the certificate whose names match the client's SNI server name is served; the first is the default."))
    var cert: [String] = []

    @Option(help: "PEM private key for the --cert in the same position.")
    var key: [String] = []

    @Option(help: "Echo mode: line (complete lines) or stream (bytes as they arrive).")
    var mode: EchoMode = .line

    @Option(help: "Longest line held back waiting for its newline, in bytes; longer lines are echoed in pieces.")
    var maxLine = 65536

    @Option(help: "Event loops, one thread each (default: one per core).")
    var threads: Int?

    @Option(help: "Readiness API: epoll, poll or io_uring (falls back to epoll where the kernel refuses io_uring).")
    var poller: PollerKind = .epoll

    @Option(help: "Seconds a TLS client has to complete its handshake.")
    var handshakeTimeout = 10.0

    @Option(help: "Seconds without traffic before a connection is closed.")
    var idleTimeout = 300.0

    @Option(help: "Open connections across both ports; past it new clients are refused (plain: \"ERROR server busy\").")
    var maxConnections = 10000

    @Option(help: "Seconds a SIGTERM/SIGINT shutdown may spend finishing echoes before cutting connections.")
    var shutdownGrace = 5.0

    @Option(help: "Lowest TLS version accepted: 1.2 or 1.3.")
    var minTls: MinimumTLS = .v12

    @Option(help: "PEM bundle of CAs that client certificates must chain to; asks TLS clients for a certificate.")
    var clientCa: String?

    @Option(help: "With --client-ca: required (refuse clients without a certificate) or optional.")
    var clientAuth: ClientAuth = .required

    @Flag(help: "Turn off TLS session resumption (tickets and session IDs).")
    var noResumption = false

    @Option(help: "Append NSS key-log lines (TLS secrets, for Wireshark) to this file; also read from SSLKEYLOGFILE.")
    var keylog: String?

    @Option(help: ArgumentHelp("Session-ticket key file (48 or 80 bytes, nginx's format); repeatable: the first encrypts, all decrypt.",
                               discussion: "Instances given the same file resume each other's sessions. Re-read on SIGHUP: rotate by putting a new file first."))
    var ticketKeyFile: [String] = []

    @Option(help: "Key-exchange groups in OpenSSL's list syntax, in order of preference.")
    var groups = TLSServerOptions.defaultGroups

    @Option(help: "Offer this ALPN protocol (repeatable, in order of preference); a client offering none of them is refused.")
    var alpn: [String] = []

    @Option(help: ArgumentHelp("Require a PROXY protocol header on every connection: v1, v2 or both (default: none).",
                               discussion: "For a server behind HAProxy, nginx stream or a cloud load balancer: the header is read before the TLS handshake, and the client it names is the peer in logs. A connection without a valid header is closed."))
    var proxyProtocol: ProxyProtocol?

    @Option(help: ArgumentHelp("Serve GET /metrics (Prometheus) and GET / (a status page) on this port; 0 lets the OS choose (default: off).",
                               discussion: "Served by the same event loops; the ready line gains metrics=HOST:PORT."))
    var metricsPort: UInt16?

    @Option(help: ArgumentHelp("Serve handshake reports on this port: TLS, and instead of echo the client is told what it offered (JA3, JA4, ciphers, groups, extensions) and what was negotiated; 0 lets the OS choose (default: off).",
                               discussion: "Same certificates and TLS policy as the TLS port. Clients negotiating http/1.1 (curl, browsers) get JSON for GET /; others get key: value lines at once. The ready line gains report=HOST:PORT."))
    var reportPort: UInt16?

    @Option(name: .customLong("profile"), help: ArgumentHelp("Serve a broken-on-purpose TLS profile on its own port (repeatable), or 'all'; PORT defaults to one the OS chooses.",
                               discussion: "Profiles: \(TLSProfile.allCases.map(\.rawValue).joined(separator: ", ")). Each echoes like the TLS port once its handshake succeeds; the ready line gains profile-NAME=HOST:PORT for each, in order.",
                               valueName: "NAME[=PORT]"))
    var profile: [String] = []

    @Option(help: ArgumentHelp("Directory the profiles' CA (ca.pem, the root to trust) and client certificate (client.pem, client.key) are written to; required with --profile.",
                               valueName: "DIR"))
    var profileDir: String?

    @Option(help: ArgumentHelp("Issue the profiles' certificates from this CA (PEM) instead of one made at start; with --profile-ca-key.", valueName: "CERT"))
    var profileCa: String?

    @Option(help: ArgumentHelp("The --profile-ca private key (PEM).", valueName: "KEY"))
    var profileCaKey: String?

    @Option(help: "Address the metrics port listens on.")
    var metricsHost = "127.0.0.1"

    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    @Option(help: "Log format on stderr: text (key=value) or json (one object per line).")
    var logFormat: LogFormat = .text

    func validate() throws {
        for text in profile {
            do { _ = try ProfileRequest.parse(text) } catch { throw ValidationError(error.description) }
        }
        do {
            try makeConfiguration().validate()
        } catch {
            throw ValidationError(error.description)
        }
        if cert.count != key.count {
            throw ValidationError("--cert and --key must be given together, one --key per --cert (got \(cert.count) and \(key.count))")
        }
        if (profileCa == nil) != (profileCaKey == nil) {
            throw ValidationError("--profile-ca and --profile-ca-key must be given together")
        }
        if clientCa == nil && clientAuth == .optional {
            throw ValidationError("--client-auth needs --client-ca")
        }
    }

    func makeConfiguration() -> ServerConfiguration {
        var configuration = ServerConfiguration()
        if !host.isEmpty { configuration.hosts = host }
        configuration.tlsPort = noTls ? nil : tlsPort
        configuration.plainPort = noPlain ? nil : plainPort
        if !cert.isEmpty {
            configuration.tls.certificates = zip(cert, key).map { CertificateSource.files(certificate: $0, key: $1) }
        }
        configuration.tls.minimumVersion = minTls.version
        configuration.tls.clientCA = clientCa
        configuration.tls.clientAuth = clientAuth
        configuration.tls.resumption = !noResumption
        configuration.tls.keylogPath = keylog ?? getenv("SSLKEYLOGFILE").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        configuration.tls.alpn = alpn
        configuration.tls.groups = groups
        configuration.tls.ticketKeyFiles = ticketKeyFile
        configuration.mode = mode
        configuration.maxLine = maxLine
        configuration.poller = poller
        configuration.handshakeTimeout = handshakeTimeout
        configuration.idleTimeout = idleTimeout
        configuration.maxConnections = maxConnections
        if let threads { configuration.threads = threads }
        configuration.shutdownGrace = shutdownGrace
        configuration.proxyProtocol = proxyProtocol
        configuration.metricsPort = metricsPort
        configuration.reportPort = reportPort
        configuration.profiles = profile.flatMap { (try? ProfileRequest.parse($0)) ?? [] }
        configuration.profileDirectory = profileDir
        if let profileCa, let profileCaKey { configuration.profileAuthority = ProfileAuthoritySource(certificate: profileCa, key: profileCaKey) }
        configuration.metricsHost = metricsHost
        return configuration
    }

    /// ArgumentParser's `main()`, except that the error is released before the process exits:
    /// its `exit(withError:)` ends the process with the error still alive, which
    /// LeakSanitizer reports as a leak in every run that fails at startup.
    static func main() {
        let message: String, code: ExitCode
        do {
            var command = try parseAsRoot()
            try command.run()
            return
        } catch {
            message = fullMessage(for: error)
            code = exitCode(for: error)
        }
        if !message.isEmpty {
            let line = message + "\n"
            _ = line.withCString { Glibc.write(code == .success ? 1 : 2, $0, strlen($0)) }
        }
        Glibc.exit(code.rawValue)
    }

    func run() throws {
        // Before any thread exists (the log writer's is the first), so every thread inherits it.
        Signals.routeToServer()
        Signals.ignoreBrokenPipe()
        let level = logLevel, format = logFormat
        let writer = try LogWriter()
        LoggingSystem.bootstrap { _ in EventLogHandler(writer: writer, level: level, format: format) }
        defer { writer.flush() }
        let server = try EchoServer(configuration: makeConfiguration(), logger: Logger(label: "secure-echo"),
                                    logLinesDropped: { writer.droppedLines })
        writer.flush()  // what startup logged (the fingerprint, warnings) comes before the ready line
        print(server.readyLine)
        fflush(nil)
        try server.run()
    }
}

extension EchoMode: ExpressibleByArgument {}
extension ProxyProtocol: ExpressibleByArgument {}
extension LogFormat: ExpressibleByArgument {}
extension PollerKind: ExpressibleByArgument {}
extension ClientAuth: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}

/// The flag's own spelling of a TLS version: TLSVersion's raw values are the wire numbers
/// (0x0303), which the help would otherwise print as the default ("771").
enum MinimumTLS: String, ExpressibleByArgument, CaseIterable {
    case v12 = "1.2"
    case v13 = "1.3"

    var version: TLSVersion { self == .v12 ? .tls12 : .tls13 }
}
