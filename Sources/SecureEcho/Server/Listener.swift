// A listening socket on the loop: accepts until the kernel has nobody waiting, and is the
// only place that knows whether its port speaks TLS or plain TCP.
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
    private let policy: EchoPolicy
    private var token: UInt32 = 0
    /// A descriptor held in reserve: when the process runs out, it is freed for a moment to
    /// accept and close the waiting connection, so a full fd table neither spins nor stalls.
    private var spareDescriptor: CInt = -1
    private var lastFullTableLog: UInt64 = 0
    private let maxConnections: Int
    /// Written to a client refused past --max-connections (plain TCP can say why; TLS cannot).
    private let refusalMessage: [UInt8]?
    private var lastBusyLog: UInt64 = 0
    private var refusedSinceLog = 0

    /// Fairness: at most this many accepts per readiness event.
    static let acceptsPerEvent = 64

    init(loop: EventLoop, socket: Socket, name: String, policy: EchoPolicy, maxConnections: Int,
         refusalMessage: [UInt8]? = nil, makeTransport: @escaping TransportFactory) throws(SystemCallError) {
        self.loop = loop
        self.maxConnections = maxConnections
        self.refusalMessage = refusalMessage
        self.socket = socket
        self.name = name
        self.policy = policy
        self.makeTransport = makeTransport
        self.address = try socket.localAddress()
        spareDescriptor = open("/dev/null", O_RDONLY | O_CLOEXEC)
        token = try loop.register(self, fd: socket.descriptor, interest: .readable)
    }

    deinit {
        if spareDescriptor >= 0 { Glibc.close(spareDescriptor) }
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

    func deadlinePassed(now: UInt64) {}

    /// Stops accepting: the listening socket is closed, so new clients are refused by the kernel.
    func stop() {
        loop.deregister(fd: socket.descriptor, token: token)
        socket.close()
    }

    private func admit(_ client: Socket, peer: SocketAddress) {
        guard loop.shared.connections.load(ordering: .relaxed) < maxConnections else {
            return refuse(client, peer: peer)
        }
        client.setNoDelay()
        do {
            let transport = try makeTransport(client)
            let connection = Connection(loop: loop, transport: transport, peer: peer.description, policy: policy)
            try connection.start()
        } catch {
            loop.logger.warning("rejected peer=\(peer) via=\(name): \(error)")
            client.close()
        }
    }

    /// Past --max-connections: accept and close at once, so the client learns now instead of
    /// waiting in the backlog.
    private func refuse(_ client: Socket, peer: SocketAddress) {
        if let refusalMessage {
            _ = try? refusalMessage.withUnsafeBytes { try client.write($0) }
        }
        client.close()
        refusedSinceLog += 1
        if loop.now - lastBusyLog >= 1_000_000_000 || lastBusyLog == 0 {
            loop.logger.warning("refused peer=\(peer) via=\(name): \(maxConnections) connections open (--max-connections); \(refusedSinceLog) refused since the last report")
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
            return true
        default:
            loop.logger.error("accept on \(address): \(error)")
            return false
        }
    }

    private func shedOneConnection(_ error: SystemCallError) {
        if loop.now - lastFullTableLog > 1_000_000_000 || lastFullTableLog == 0 {
            lastFullTableLog = loop.now
            loop.logger.error("accept on \(address): \(error.reason); closing new connections until descriptors free up")
        }
        guard spareDescriptor >= 0 else { return }
        Glibc.close(spareDescriptor)
        spareDescriptor = -1
        if let (client, _) = try? socket.accept() { client.close() }
        spareDescriptor = open("/dev/null", O_RDONLY | O_CLOEXEC)
    }
}
