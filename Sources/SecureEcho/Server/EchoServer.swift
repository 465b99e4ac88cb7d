// Composes the pieces: the TLS context, the listeners, the signal watcher and the event loop
// they share; runs until a SIGTERM/SIGINT shutdown has finished.
import Logging
#if canImport(Glibc)
import Glibc
#endif

public final class EchoServer {
    private let loop: EventLoop
    private var listeners: [Listener] = []
    private var signalWatcher: SignalWatcher?
    public let configuration: ServerConfiguration
    /// Where the TLS listeners are bound (one per host).
    public private(set) var tlsAddresses: [SocketAddress] = []
    /// Where the plain listeners are bound (one per host).
    public private(set) var plainAddresses: [SocketAddress] = []
    /// SHA-256 fingerprint of the served certificate (TLS only).
    public private(set) var fingerprint: String?

    /// The TLS context new connections get; SIGHUP replaces it, sessions keep theirs.
    private let tlsContext = TLSContextHolder()
    private var shutdownStarted = false
    private var shutdownStartedAt: UInt64 = 0
    private var openAtShutdown = 0
    private var cutAtGrace = 0

    /// Descriptors beyond one per connection: listeners, poller, signalfd, the spare, stdio.
    static let descriptorOverhead = 64

    /// Loads the certificate and binds every listener; throws, naming the file or
    /// host:port at fault, before anything is served.
    public init(configuration: ServerConfiguration, logger: Logger) throws {
        try configuration.validate()
        self.configuration = configuration
        try ResourceLimits.ensureOpenFiles(configuration.maxConnections + Self.descriptorOverhead,
                                           for: configuration.maxConnections)
        loop = EventLoop(poller: try makePoller(configuration.poller), logger: logger)
        let policy = EchoPolicy(
            mode: configuration.mode,
            maxLine: configuration.maxLine,
            handshakeTimeout: UInt64(configuration.handshakeTimeout * 1e9),
            idleTimeout: UInt64(configuration.idleTimeout * 1e9))

        if let port = configuration.tlsPort {
            let context = try TLSContext.server(configuration.tls)
            fingerprint = context.fingerprint
            tlsContext.current = context
            let holder = tlsContext
            tlsAddresses = try listenOnEveryHost(port: port, name: "tls", policy: policy) { socket in
                guard let context = holder.current else { throw TLSContextError.library(.drain("no TLS context")) }
                return try TLSTransport(socket: socket, context: context)
            }
            if configuration.tls.keylogPath != nil {
                logger.warning("KEY LOGGING IS ON: TLS secrets are being written to \(configuration.tls.keylogPath ?? ""); anyone with that file can decrypt captured traffic")
            }
            if configuration.tls.certificates == [.ephemeral], let fingerprint {
                logger.notice("ephemeral self-signed certificate for localhost, 127.0.0.1, ::1; sha256 fingerprint \(fingerprint)")
            }
        }
        if let port = configuration.plainPort {
            plainAddresses = try listenOnEveryHost(port: port, name: "plain", policy: policy) { socket in
                PlainTransport(socket: socket)
            }
        }
        signalWatcher = try SignalWatcher(
            loop: loop, signals: [SIGTERM, SIGINT, SIGHUP],
            onSignal: { [unowned self] signal in self.received(signal: signal) },
            onGraceExpired: { [unowned self] in self.cutRemainingConnections() })
    }

    /// `ready tls=127.0.0.1:8443 plain=127.0.0.1:8000`: a disabled listener omitted, one
    /// field per address when several hosts are served.
    public var readyLine: String {
        (["ready"] + tlsAddresses.map { "tls=\($0)" } + plainAddresses.map { "plain=\($0)" }).joined(separator: " ")
    }

    /// Serves until SIGTERM or SIGINT, then until every connection has finished or the
    /// shutdown grace has passed.
    public func run() throws {
        loop.logger.info("serving with \(loop.poller.kind) mode=\(configuration.mode) max_line=\(configuration.maxLine) max_connections=\(configuration.maxConnections)")
        while !(shutdownStarted && loop.connectionCount == 0) {
            try loop.runOnce()
        }
        let elapsedMs = (MonotonicClock.now() - shutdownStartedAt) / 1_000_000
        loop.logger.notice("stopped: \(openAtShutdown - cutAtGrace) of \(openAtShutdown) connections finished their echo, \(cutAtGrace) cut at the \(configuration.shutdownGrace) s grace, in \(elapsedMs) ms")
    }

    // MARK: - Shutdown

    private func received(signal: CInt) {
        if signal == SIGHUP { return reload() }
        let name = signal == SIGINT ? "SIGINT" : "SIGTERM"
        guard !shutdownStarted else {
            loop.logger.notice("\(name) again: closing remaining connections now")
            return cutRemainingConnections()
        }
        shutdownStarted = true
        shutdownStartedAt = loop.now
        openAtShutdown = loop.connectionCount
        loop.logger.notice("\(name): no longer accepting; finishing \(openAtShutdown) connections (grace \(configuration.shutdownGrace) s)")
        for listener in listeners { listener.stop() }
        listeners.removeAll()
        for case let connection as Connection in loop.handlers { connection.beginShutdown() }
        signalWatcher?.armGrace(seconds: configuration.shutdownGrace)
    }

    /// SIGHUP: re-reads certificates, keys, the client CA (and reopens the key log). New
    /// connections get the new context; open sessions keep the one they started with. A file
    /// that does not load leaves the running configuration in place.
    private func reload() {
        guard configuration.tlsPort != nil, !shutdownStarted else { return }
        guard configuration.tls.certificates != [.ephemeral] || configuration.tls.clientCA != nil else {
            loop.logger.notice("SIGHUP: nothing to reload (ephemeral certificate)")
            return
        }
        do {
            let context = try TLSContext.server(configuration.tls)
            if let previous = tlsContext.current { context.adoptTicketKeys(from: previous) }
            tlsContext.current = context
            fingerprint = context.fingerprint
            loop.logger.notice("SIGHUP: reloaded TLS certificates; sha256 fingerprint \(context.fingerprint ?? "?")")
        } catch {
            loop.logger.error("SIGHUP: reload failed, keeping the current certificates: \(error)")
        }
    }

    private func cutRemainingConnections() {
        for case let connection as Connection in loop.handlers {
            // A connection that is only waiting for its peer to close has delivered everything.
            if !connection.hasFinishedEcho { cutAtGrace += 1 }
            connection.abort(reason: "shutdown grace expired")
        }
    }

    /// One listener per host, all on the same port (the OS's choice for the first when 0).
    private func listenOnEveryHost(port: UInt16, name: String, policy: EchoPolicy,
                                   transport: @escaping Listener.TransportFactory) throws -> [SocketAddress] {
        var port = port
        var addresses: [SocketAddress] = []
        for host in configuration.hosts {
            let address = try listen(host: host, port: port, name: name, policy: policy, transport: transport).address
            if port == 0 { port = address.port }
            addresses.append(address)
        }
        return addresses
    }

    private func listen(host: String, port: UInt16, name: String, policy: EchoPolicy,
                        transport: @escaping Listener.TransportFactory) throws -> Listener {
        let address = try SocketAddress.resolve(host: host, port: port)
        let socket: Socket
        do {
            // `::` as the only host serves IPv4 too; next to other hosts it is IPv6 only.
            socket = try Socket.listen(on: address, dualStack: configuration.hosts.count == 1 && address.isIPv6Wildcard)
        } catch {
            throw ListenError(address: address, name: name, cause: error)
        }
        let listener = try Listener(loop: loop, socket: socket, name: name, policy: policy,
                                    maxConnections: configuration.maxConnections, makeTransport: transport)
        listeners.append(listener)
        return listener
    }
}

/// The TLS context new connections are given; replaced on reload.
final class TLSContextHolder {
    var current: TLSContext?
}

/// A listener that could not be opened, naming host:port.
public struct ListenError: Error, CustomStringConvertible, Sendable {
    public let address: SocketAddress
    public let name: String
    public let cause: SystemCallError
    public var description: String { "cannot listen on \(address) (\(name)): \(cause.reason)" }
}
