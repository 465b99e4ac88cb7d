// Composes the pieces: the TLS context, one event loop per thread with its own listeners,
// and the signal handling; runs until a SIGTERM/SIGINT shutdown has finished.
import SecureEchoLoop
import SecureEchoSystem
import SecureEchoTLS
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public final class EchoServer {
    /// This release, for `--version`.
    public static let version = "0.9.0"

    public let configuration: ServerConfiguration
    /// Where the TLS listeners are bound (one per host).
    public private(set) var tlsAddresses: [SocketAddress] = []
    /// Where the plain listeners are bound (one per host).
    public private(set) var plainAddresses: [SocketAddress] = []
    /// SHA-256 fingerprint of the served certificate (TLS only).
    public private(set) var fingerprint: String?

    /// Where the metrics and status page listen (one address), when --metrics-port is given.
    public private(set) var metricsAddresses: [SocketAddress] = []
    /// Where the handshake report port listens (one per host), when --report-port is given.
    public private(set) var reportAddresses: [SocketAddress] = []
    /// Where each test profile listens (one address per host), in the order given.
    public private(set) var profileAddresses: [(profile: TLSProfile, addresses: [SocketAddress])] = []
    /// The profiles' contexts: made once at start, kept as they are by a reload.
    private var profileContexts: [TLSContext] = []

    let logger: Logger
    let shared = SharedServerState()
    /// Worker 0 runs on the thread that calls `run()` and handles signals; the others get threads.
    var workers: [LoopWorker] = []
    private var wakeups: [EventFD] = []
    private var signalWatcher: SignalWatcher?
    private var shutdownStartedAt: UInt64 = 0
    private var openAtShutdown = 0

    /// io_uring where the kernel offers it; otherwise epoll, said in one line. `probe` makes
    /// a poller of the kind asked for (tests pass one that fails, as a kernel without io_uring does).
    static func availablePoller(_ kind: PollerKind, logger: Logger,
                                probe: (PollerKind) throws(SystemCallError) -> any Poller = makePoller) -> PollerKind {
        guard kind == .ioUring else { return kind }
        do {
            _ = try probe(.ioUring)
            return kind
        } catch {
            logger.warning("io_uring unavailable (\(error)); using epoll", metadata: ["event": "poller_fallback"])
            return .epoll
        }
    }

    /// Descriptors beyond one per connection: listeners, pollers, eventfds, signalfd, spares, stdio.
    static let descriptorOverhead = 64

    /// Loads the certificate and binds every listener; throws, naming the file or
    /// host:port at fault, before anything is served.
    /// `logLinesDropped` is reported on /metrics (the log writer belongs to the program).
    public init(configuration: ServerConfiguration, logger: Logger, logLinesDropped: @escaping @Sendable () -> Int = { 0 }) throws {
        try configuration.validate()
        var configuration = configuration
        configuration.poller = Self.availablePoller(configuration.poller, logger: logger)
        self.configuration = configuration
        self.logger = logger
        try ResourceLimits.ensureOpenFiles(configuration.maxConnections + Self.descriptorOverhead * configuration.threads,
                                           for: configuration.maxConnections)
        // Before any thread exists, so that every thread inherits the blocked signals.
        for id in 0..<configuration.threads {
            let loop = EventLoop(poller: try makePoller(configuration.poller), logger: logger, id: id)
            let worker = try LoopWorker(loop: loop, shared: shared, shutdownGrace: configuration.shutdownGrace)
            workers.append(worker)
            wakeups.append(worker.wakeup)
        }
        signalWatcher = try SignalWatcher(loop: workers[0].loop, signals: [SIGTERM, SIGINT, SIGHUP],
                                          onSignal: { [unowned self] signal in self.received(signal: signal) })
        let policy = ConnectionPolicy(
            handshakeTimeout: UInt64(configuration.handshakeTimeout * 1e9),
            idleTimeout: UInt64(configuration.idleTimeout * 1e9))
        let sources = try ListenSources(activation: configuration.socketActivation ? SocketActivation.takeInherited() : nil)
        // Both echo ports speak the same protocol after the same preamble; only the transport differs.
        let echo = configuration.mode.makeApplication(maxLine: configuration.maxLine)
        let preamble = configuration.proxyProtocol.map { versions in { ProxyHeaderReader(accepting: versions) } as PreambleFactory }

        if let source = sources.source(for: "tls", port: configuration.tlsPort) {
            let context = try TLSContext.server(configuration.tls)
            fingerprint = context.fingerprint
            shared.currentTLSContext = context
            let shared = self.shared
            tlsAddresses = try open(from: source, hosts: configuration.hosts, Service(
                name: "tls", traffic: \.tls, policy: policy, preamble: preamble, application: echo) { socket in
                // Set before the first listener opens and only ever replaced, never cleared.
                guard let context = shared.currentTLSContext else { preconditionFailure("TLS listener without a TLS context") }
                return try TLSTransport(socket: socket, context: context)
            })
            if configuration.tls.keylogPath != nil {
                logger.warning("KEY LOGGING IS ON: TLS secrets are being written to \(configuration.tls.keylogPath ?? ""); anyone with that file can decrypt captured traffic", metadata: ["event": "keylog_on"])
            }
            if configuration.tls.certificates == [.ephemeral], let fingerprint {
                logger.notice("ephemeral self-signed certificate for localhost, 127.0.0.1, ::1; sha256 fingerprint \(fingerprint)", metadata: ["event": "ephemeral_certificate"])
            }
        }
        if let source = sources.source(for: "plain", port: configuration.plainPort) {
            // Plain TCP can tell a refused client why; TLS cannot before a handshake.
            plainAddresses = try open(from: source, hosts: configuration.hosts, Service(
                name: "plain", traffic: \.plain, policy: policy, refusalMessage: Array("ERROR server busy\r\n".utf8),
                preamble: preamble, application: echo) { socket in
                PlainTransport(socket: socket)
            })
        }
        if let source = sources.source(for: "report", port: configuration.reportPort) {
            shared.currentReportContext = try TLSContext.server(configuration.reportTLS, sibling: shared.currentTLSContext)
            let shared = self.shared
            let requested = configuration.tls.clientCA != nil
            // An HTTP client's request, like a handshake, must be whole within the handshake timeout.
            let reportPolicy = ConnectionPolicy(handshakeTimeout: policy.handshakeTimeout, idleTimeout: policy.handshakeTimeout)
            reportAddresses = try open(from: source, hosts: configuration.hosts, Service(
                name: "report", traffic: \.tls, policy: reportPolicy, preamble: preamble,
                application: { ReportApplication(clientCertificatesRequested: requested) }) { socket in
                guard let context = shared.currentReportContext else { preconditionFailure("report listener without a TLS context") }
                return try TLSTransport(socket: socket, context: context)
            })
        }
        if !configuration.profiles.isEmpty, let directory = configuration.profileDirectory {
            try openProfiles(directory: directory, policy: policy, echo: echo, preamble: preamble, sources: sources)
        }
        if let source = sources.source(for: "metrics", port: configuration.metricsPort) {
            let status = StatusSource(loops: workers.map(\.counters), logLinesDropped: logLinesDropped,
                                      page: StatusPage(tls: tlsAddresses, plain: plainAddresses, fingerprint: fingerprint))
            // A request must be whole within the handshake timeout: a slow one is cut off.
            let requestPolicy = ConnectionPolicy(handshakeTimeout: policy.handshakeTimeout, idleTimeout: policy.handshakeTimeout)
            metricsAddresses = try open(from: source, hosts: [configuration.metricsHost], Service(
                name: "metrics", traffic: \.http, policy: requestPolicy, application: { HTTPResponder(status: status) }) { socket in
                PlainTransport(socket: socket)
            })
        }
    }

    /// `ready tls=127.0.0.1:8443 plain=127.0.0.1:8000`: a disabled listener omitted, one
    /// field per address when several hosts are served.
    public var readyLine: String {
        (["ready"] + tlsAddresses.map { "tls=\($0)" } + plainAddresses.map { "plain=\($0)" }
            + metricsAddresses.map { "metrics=\($0)" } + reportAddresses.map { "report=\($0)" }
            + profileAddresses.flatMap { profile in profile.addresses.map { "profile-\(profile.profile.rawValue)=\($0)" } })
            .joined(separator: " ")
    }

    /// One TLS listener per profile, with certificates from one CA; the files a client needs
    /// are written before any profile listens.
    private func openProfiles(directory: String, policy: ConnectionPolicy, echo: @escaping ApplicationFactory,
                              preamble: PreambleFactory?, sources: ListenSources) throws {
        let certificates = try ProfileCertificates(directory: directory, authority: configuration.profileAuthority)
        try certificates.write()
        for request in configuration.profiles {
            let setup = try ProfileSetup(request.profile, server: configuration.tls, certificates: certificates,
                                         maxLine: configuration.maxLine)
            let context = try TLSContext.server(setup.tls)
            profileContexts.append(context)
            let name = "profile-\(request.profile.rawValue)"
            var profilePolicy = policy
            profilePolicy.pace = setup.pace
            guard let source = sources.source(for: name, port: request.port) else { continue }
            let addresses = try open(from: source, hosts: configuration.hosts, Service(
                name: name, traffic: \.tls, policy: profilePolicy, preamble: setup.preamble ?? preamble,
                application: setup.application ?? echo) { socket in
                try TLSTransport(socket: socket, context: context)
            })
            profileAddresses.append((request.profile, addresses))
        }
        logger.notice("\(configuration.profiles.count) test profile(s) listening; trust \(certificates.caPath) (client certificate: \(directory)/client.pem)", metadata: ["event": "profiles"])
    }

    /// Serves until SIGTERM or SIGINT, then until every connection has finished or the
    /// shutdown grace has passed. Call once.
    public func run() throws {
        logger.info("serving with \(configuration.threads) \(configuration.poller.rawValue) loop(s) mode=\(configuration.mode) max_line=\(configuration.maxLine) max_connections=\(configuration.maxConnections)", metadata: ["event": "serving"])
        var threads: [LoopThread] = []
        let shared = self.shared
        let mainWakeup = wakeups[0]
        shared.otherLoopsRunning.store(workers.count - 1, ordering: .relaxed)
        for worker in workers.dropFirst() {
            let transfer = UnsafeTransfer(value: worker)
            let logger = self.logger
            threads.append(try LoopThread {
                do {
                    try transfer.value.run()
                } catch {
                    logger.critical("event loop \(transfer.value.loop.id) stopped: \(error); its listeners are closed, the other loops go on", metadata: ["event": "loop_failed"])
                    transfer.value.abandon()
                }
                shared.otherLoopsRunning.subtract(1, ordering: .relaxed)
                mainWakeup.signal()
            })
        }
        // The other loops now belong to their threads; this thread keeps only loop 0.
        let main = workers[0]
        workers = []
        do {
            try main.run(until: { shared.otherLoopsRunning.load(ordering: .relaxed) == 0 })
        } catch {
            // Loop 0 cannot go on (its poller failed), and it reads the signals: stop the others
            // before reporting it.
            main.abandon()
            shared.shutdownRequested.store(true, ordering: .relaxed)
            shared.cutRequested.store(true, ordering: .relaxed)
            for wakeup in wakeups { wakeup.signal() }
            for thread in threads { thread.join() }
            throw error
        }
        for thread in threads { thread.join() }
        let cut = shared.cutAtGrace.load(ordering: .relaxed)
        let elapsedMs = (MonotonicClock.now() - shutdownStartedAt) / 1_000_000
        logger.notice("stopped: \(openAtShutdown - cut) of \(openAtShutdown) connections finished their echo, \(cut) cut at the \(configuration.shutdownGrace) s grace, in \(elapsedMs) ms", metadata: ["event": "stopped"])
    }

    // MARK: - Signals (on loop 0's thread)

    private func received(signal: CInt) {
        if signal == SIGHUP { return reload() }
        let name = signal == SIGINT ? "SIGINT" : "SIGTERM"
        if shared.shutdownRequested.load(ordering: .relaxed) {
            logger.notice("\(name) again: closing remaining connections now", metadata: ["event": "shutdown_now"])
            shared.cutRequested.store(true, ordering: .relaxed)
        } else {
            shutdownStartedAt = MonotonicClock.now()
            openAtShutdown = shared.connections.load(ordering: .relaxed)
            logger.notice("\(name): no longer accepting; finishing \(openAtShutdown) connections (grace \(configuration.shutdownGrace) s)", metadata: ["event": "shutdown"])
            shared.shutdownRequested.store(true, ordering: .relaxed)
        }
        for wakeup in wakeups { wakeup.signal() }
    }

    /// SIGHUP: re-reads certificates, keys, the client CA (and reopens the key log). New
    /// connections get the new context; open sessions keep the one they started with, and
    /// tickets issued before stay valid. A file that does not load changes nothing.
    private func reload() {
        guard configuration.tlsPort != nil || configuration.reportPort != nil,
              !shared.shutdownRequested.load(ordering: .relaxed) else { return }
        guard configuration.tls.certificates != [.ephemeral] || configuration.tls.clientCA != nil else {
            logger.notice("SIGHUP: nothing to reload (ephemeral certificate)", metadata: ["event": "reload"])
            return
        }
        do {
            // An ephemeral certificate stays the one whose fingerprint was logged at start.
            let context = try TLSContext.server(configuration.tls, sibling: shared.currentTLSContext)
            // Keys from --ticket-key-file are re-read with the certificates; OpenSSL's own
            // random keys are carried over, so that earlier tickets still resume.
            if configuration.tls.ticketKeyFiles.isEmpty, let previous = shared.currentTLSContext {
                do {
                    try context.adoptTicketKeys(from: previous)
                } catch {
                    logger.warning("SIGHUP: \(error); tickets issued before the reload will not resume", metadata: ["event": "reload"])
                }
            }
            if configuration.reportPort != nil {
                shared.currentReportContext = try TLSContext.server(configuration.reportTLS, sibling: context)
            }
            shared.currentTLSContext = context
            fingerprint = context.fingerprint
            logger.notice("SIGHUP: reloaded TLS certificates; sha256 fingerprint \(context.fingerprint ?? "?")", metadata: ["event": "reload"])
        } catch {
            logger.error("SIGHUP: reload failed, keeping the current certificates: \(error)", metadata: ["event": "reload_failed"])
        }
    }
}

/// A listener that could not be opened, naming host:port.
public struct ListenError: Error, CustomStringConvertible, Sendable {
    public let address: SocketAddress
    public let name: String
    public let cause: SystemCallError
    public var description: String { "cannot listen on \(address) (\(name)): \(cause.reason)" }
}
