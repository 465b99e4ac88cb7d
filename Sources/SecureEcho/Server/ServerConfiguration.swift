// Everything EchoServer needs, as a value: built by the CLI, by tests, or by hand.
import SecureEchoLoop
import SecureEchoSystem
import SecureEchoTLS
#if canImport(Glibc)
import Glibc
#endif

public struct ServerConfiguration: Sendable, Equatable {
    /// Addresses both listeners bind to: IPv4 or IPv6 literals, or names such as `localhost`.
    /// `::` alone serves IPv4 clients too (dual stack).
    public var hosts = ["127.0.0.1"]
    /// TLS echo port; 0 lets the OS choose; nil disables the TLS listener.
    public var tlsPort: UInt16? = 8443
    /// Plain TCP echo port; 0 lets the OS choose; nil disables the plain listener.
    public var plainPort: UInt16? = 8000
    /// Certificate, versions, client certificates, resumption, key log, ALPN.
    public var tls = TLSServerOptions()
    public var mode = EchoMode.line
    /// Longest line held back waiting for its newline; longer lines are echoed in pieces.
    public var maxLine = 65536
    public var poller = PollerKind.epoll
    /// Seconds a TLS client has to finish its handshake.
    public var handshakeTimeout = 10.0
    /// Seconds without a byte either way before a connection is closed.
    public var idleTimeout = 300.0

    /// Open connections across both ports; past it new clients are refused.
    public var maxConnections = 10000
    /// Event loops, each on its own thread with its own listeners (SO_REUSEPORT).
    public var threads = ServerConfiguration.onlineProcessors
    /// Seconds a SIGTERM/SIGINT shutdown may take before remaining connections are cut.
    public var shutdownGrace = 5.0
    /// A PROXY protocol header required on every connection (behind HAProxy and the like),
    /// read before anything else; nil: none is expected, and one would be echoed as data.
    public var proxyProtocol: ProxyProtocol?
    /// Port for GET /metrics (Prometheus) and GET / (status page); 0 lets the OS choose; nil: none.
    public var metricsPort: UInt16?
    /// Port answering each TLS handshake with a report on it (ClientHello, JA3/JA4, what was
    /// negotiated) instead of echo; same certificates and policy as the TLS port; nil: none.
    public var reportPort: UInt16?
    /// Test profiles, each its own TLS listener, in the order the ready line lists them.
    public var profiles: [ProfileRequest] = []
    /// Where the profiles' CA and client certificate are written (required with profiles).
    public var profileDirectory: String?
    /// The CA that issues the profiles' certificates; nil: one is made at start.
    public var profileAuthority: ProfileAuthoritySource?
    /// Address the metrics port binds to: local only by default.
    public var metricsHost = "127.0.0.1"
    /// Serve the listening sockets systemd passes (LISTEN_FDS, named tls, plain, metrics by
    /// LISTEN_FDNAMES) instead of binding ports, when it passes any.
    public var socketActivation = true

    /// The report port's TLS options: the TLS port's, offering http/1.1 to clients that ask
    /// for it (curl, browsers get JSON) and going on without ALPN for the others.
    public var reportTLS: TLSServerOptions {
        var options = tls
        options.alpn = ["http/1.1"]
        options.alpnOptional = true
        return options
    }

    public static var onlineProcessors: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    public static let maxLineLimit = 16 * 1024 * 1024

    public init() {}

    /// Checks the values the type system cannot; each error names the flag at fault.
    public func validate() throws(ConfigurationError) {
        if tlsPort == nil && plainPort == nil && reportPort == nil && profiles.isEmpty {
            throw ConfigurationError("--no-tls and --no-plain together leave nothing to serve (add --report-port, or drop one)")
        }
        if maxLine < 1 || maxLine > Self.maxLineLimit {
            throw ConfigurationError("--max-line must be between 1 and \(Self.maxLineLimit) bytes, got \(maxLine)")
        }
        if !(handshakeTimeout > 0) || handshakeTimeout > 86_400 {
            throw ConfigurationError("--handshake-timeout must be between 0 and 86400 seconds, got \(handshakeTimeout)")
        }
        if !(idleTimeout > 0) || idleTimeout > 86_400 * 7 {
            throw ConfigurationError("--idle-timeout must be between 0 and 604800 seconds, got \(idleTimeout)")
        }
        if threads < 1 || threads > 1024 {
            throw ConfigurationError("--threads must be between 1 and 1024, got \(threads)")
        }
        if maxConnections < 1 || maxConnections > 1_000_000 {
            throw ConfigurationError("--max-connections must be between 1 and 1000000, got \(maxConnections)")
        }
        if !(shutdownGrace >= 0) || shutdownGrace > 3600 {
            throw ConfigurationError("--shutdown-grace must be between 0 and 3600 seconds, got \(shutdownGrace)")
        }
        for protocolName in tls.alpn where protocolName.utf8.count < 1 || protocolName.utf8.count > 255 {
            throw ConfigurationError("--alpn protocol names must be 1 to 255 bytes, got '\(protocolName)'")
        }
        do {
            try TLSContext.validateGroups(tls.groups)
        } catch {
            throw ConfigurationError(error.description)
        }
        if !profiles.isEmpty && profileDirectory == nil {
            throw ConfigurationError("--profile needs --profile-dir DIR (where the CA to trust and the client certificate are written)")
        }
        if profiles.isEmpty && (profileDirectory != nil || profileAuthority != nil) {
            throw ConfigurationError("--profile-dir and --profile-ca need at least one --profile")
        }
        if let duplicate = profiles.first(where: { one in profiles.filter { $0.profile == one.profile }.count > 1 }) {
            throw ConfigurationError("--profile \(duplicate.profile.rawValue) given twice")
        }
        if metricsHost.isEmpty {
            throw ConfigurationError("--metrics-host must not be empty")
        }
        if hosts.isEmpty || hosts.contains(where: \.isEmpty) {
            throw ConfigurationError("--host must not be empty")
        }
    }
}

/// A configuration value that cannot work, with the flag at fault named in the message.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
