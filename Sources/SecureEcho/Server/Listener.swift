// A listening socket on the loop: accepts until the kernel has nobody waiting, and is the
// only place that knows what its port speaks: the transport (TLS or plain TCP), the
// preamble, if any, and the application.
import SecureEchoLoop
import SecureEchoSystem
import SecureEchoTLS
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

final class Listener: EventHandler {
    typealias TransportFactory = (Socket) throws -> any Transport

    private unowned let loop: EventLoop
    private let socket: Socket
    let address: SocketAddress
    let name: String
    private let makeTransport: TransportFactory
    private let policy: ConnectionPolicy
    private let makeApplication: ApplicationFactory
    private let makePreamble: PreambleFactory?
    private let counters: LoopCounters
    /// The transport counters its connections add to ("tls", "plain", or "http" for the metrics port).
    private let traffic: TransportCounters
    private let shared: SharedServerState
    private var token: UInt32 = 0
    /// A descriptor held in reserve: when the process runs out, it is freed for a moment to
    /// accept and close the waiting connection, so a full fd table neither spins nor stalls.
    private let spare = SpareDescriptor()
    /// Accepting is paused (descriptor table full and no spare left) until the listener's deadline.
    private var paused = false
    private var lastFullTableLog: UInt64 = 0
    private let maxConnections: Int
    /// Written to a client refused past --max-connections (plain TCP can say why; TLS cannot).
    private let refusalMessage: [UInt8]?
    private var lastBusyLog: UInt64 = 0
    private var refusedSinceLog = 0

    /// Fairness: at most this many accepts per readiness event.
    static let acceptsPerEvent = 64

    init(loop: EventLoop, shared: SharedServerState, socket: Socket, name: String, policy: ConnectionPolicy, maxConnections: Int,
         refusalMessage: [UInt8]? = nil, makeTransport: @escaping TransportFactory,
         makePreamble: PreambleFactory? = nil, makeApplication: @escaping ApplicationFactory,
         counters: LoopCounters, traffic: TransportCounters) throws(SystemCallError) {
        self.counters = counters
        self.traffic = traffic
        self.loop = loop
        self.shared = shared
        self.maxConnections = maxConnections
        self.refusalMessage = refusalMessage
        self.socket = socket
        self.name = name
        self.policy = policy
        self.makeTransport = makeTransport
        self.makePreamble = makePreamble
        self.makeApplication = makeApplication
        self.address = try socket.localAddress()
        if loop.poller.doesSocketIO { socket.completedAccept = CompletedAccept() }
        token = try loop.register(self, fd: socket.descriptor, interest: .readable, accepts: socket.completedAccept)
    }

    func handle(_ ready: Interest) {
        for _ in 0..<Self.acceptsPerEvent {
            do {
                guard let (client, peer) = try socket.accept() else { return }
                admit(client, peer: peer)
            } catch {
                guard recover(from: error) else { return }
            }
        }
        // More may be waiting: level-triggered polling reports the listener again.
    }

    /// The pause after a full descriptor table is over: listen again (the spare is re-taken
    /// on the next shed, when the table may have room).
    func deadlinePassed(now: UInt64) {
        guard paused, socket.isOpen else { return }
        paused = false
        try? loop.setInterest(.readable, fd: socket.descriptor, token: token)
    }

    /// How long accepting pauses when the table is full and the spare cannot be re-taken.
    static let fullTablePause: UInt64 = 100_000_000

    /// Stops accepting: the listening socket is closed, so new clients are refused by the kernel.
    func stop() {
        loop.deregister(fd: socket.descriptor, token: token)
        socket.close()
    }

    private func admit(_ client: Socket, peer: SocketAddress) {
        guard shared.reserveConnection(limit: maxConnections) else {
            return refuse(client, peer: peer)
        }
        client.setNoDelay()
        if loop.poller.doesSocketIO {
            client.completedReceive = CompletedReceive()
            client.queuedSend = QueuedSend()
        }
        let transport: any Transport
        do {
            transport = try makeTransport(client)
        } catch {
            shared.releaseConnection()
            loop.logger.warning("rejected", metadata: ["event": "rejected", "peer": "\(peer)", "transport": "\(name)", "reason": "\(error)"])
            client.close()
            return
        }
        // From here the connection owns its slot and gives it back when it closes.
        let connection = Connection(loop: loop, transport: transport, peer: peer.description, policy: policy,
                                    application: makeApplication(), preamble: makePreamble?(),
                                    counters: counters, traffic: traffic, onClose: { [shared] in shared.releaseConnection() })
        connection.start()
    }

    /// Past --max-connections: accept and close at once, so the client learns now instead of
    /// waiting in the backlog.
    private func refuse(_ client: Socket, peer: SocketAddress) {
        if let refusalMessage {
            _ = try? refusalMessage.withUnsafeBytes { try client.write($0) }
        }
        client.close()
        counters.refused.add()
        refusedSinceLog += 1
        if loop.now - lastBusyLog >= 1_000_000_000 || lastBusyLog == 0 {
            loop.logger.warning("refused", metadata: [
                "event": "refused", "peer": "\(peer)", "transport": "\(name)",
                "reason": "\(maxConnections) connections open (--max-connections)", "refused_since_last": "\(refusedSinceLog)",
            ])
            lastBusyLog = loop.now
            refusedSinceLog = 0
        }
    }

    /// Returns whether accepting may go on. One failed accept never stops the server.
    private func recover(from error: SystemCallError) -> Bool {
        switch error.errno {
        case ECONNABORTED, EPROTO, EPERM, ENETDOWN, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH:
            return true  // that one peer is gone; the next may be fine
        case EMFILE, ENFILE:
            shedOneConnection(error)
            return false
        default:
            loop.logger.error("accept failed", metadata: ["event": "accept_failed", "listener": "\(address)", "reason": "\(error)"])
            return false
        }
    }

    private func shedOneConnection(_ error: SystemCallError) {
        if loop.now - lastFullTableLog > 1_000_000_000 || lastFullTableLog == 0 {
            lastFullTableLog = loop.now
            loop.logger.error("out of descriptors: closing new connections until some free up",
                              metadata: ["event": "descriptors_exhausted", "listener": "\(address)", "reason": "\(error.reason)"])
        }
        // Descriptors are process-wide: another loop may take the number the spare frees, so
        // re-taking it can fail. Without a spare the listener stops asking for a while instead
        // of being woken for accepts that can only fail (a level-triggered spin).
        if spare.acquire() {
            spare.release()
            if let (client, _) = try? socket.accept(direct: true) { client.close() }
            if spare.acquire() { return }
        }
        paused = true
        try? loop.setInterest([], fd: socket.descriptor, token: token)
        loop.schedule(deadline: loop.now + Self.fullTablePause, fd: socket.descriptor, token: token)
    }
}
