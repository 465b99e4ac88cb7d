// Opening a port on every loop: one listener per loop and host, sharing the port through
// SO_REUSEPORT when there are several loops, each knowing what its connections speak.
import SecureEchoLoop
import SecureEchoSystem

/// What one port speaks: the same for each loop's listener on it.
struct Service {
    /// "tls", "plain", "metrics": for logs and errors.
    let name: String
    /// Where its connections count their traffic, among a loop's counters.
    let traffic: KeyPath<LoopCounters, TransportCounters>
    let policy: ConnectionPolicy
    var refusalMessage: [UInt8]? = nil
    var preamble: PreambleFactory? = nil
    let application: ApplicationFactory
    let transport: Listener.TransportFactory
}

/// Where each service listens: on sockets systemd passed (socket activation), or on ports to bind.
struct ListenSources {
    enum Source {
        case inherited(Socket)
        case port(UInt16)
    }

    private let inherited: [String: Socket]?

    init(activation: [(name: String, socket: Socket)]?) throws(SocketActivationError) {
        guard let activation else {
            inherited = nil
            return
        }
        var byName: [String: Socket] = [:]
        for (name, socket) in activation {
            let known = ["tls", "plain", "metrics", "report"].contains(name)
                || TLSProfile.allCases.contains { "profile-\($0.rawValue)" == name }
            guard known, byName[name] == nil else {
                throw SocketActivationError("socket activation: unknown or repeated socket name '\(name)' (tls, plain, metrics, report, profile-NAME)")
            }
            byName[name] = socket
        }
        inherited = byName
    }

    /// With socket activation, a service is served exactly when systemd passed its socket;
    /// otherwise when it has a port.
    func source(for name: String, port: UInt16?) -> Source? {
        guard let inherited else { return port.map(Source.port) }
        return inherited[name].map(Source.inherited)
    }
}

extension EchoServer {
    func open(from source: ListenSources.Source, hosts: [String], _ service: Service) throws -> [SocketAddress] {
        switch source {
        case .port(let port): return try listenOnEveryHost(port: port, hosts: hosts, service)
        case .inherited(let socket): return [try adopt(socket, service)]
        }
    }

    /// A socket systemd listens on for us: loop 0 polls it, each other loop a duplicate of it
    /// (one queue, shared; SO_REUSEPORT cannot split a socket that already exists).
    private func adopt(_ socket: Socket, _ service: Service) throws -> SocketAddress {
        var address: SocketAddress?
        for worker in workers {
            let listener = try makeListener(worker === workers.first ? socket : try socket.duplicate(), service, on: worker)
            address = address ?? listener.address
        }
        guard let address else { preconditionFailure("a server has at least one loop") }
        return address
    }

    /// For each host, one listener per loop, all on the same port (the OS's choice for the
    /// first when 0). Returns the address bound for each host.
    func listenOnEveryHost(port: UInt16, hosts: [String], _ service: Service) throws -> [SocketAddress] {
        var port = port
        var addresses: [SocketAddress] = []
        for host in hosts {
            var bound: SocketAddress?
            for worker in workers {
                let listener = try listen(host: host, port: port, alone: hosts.count == 1, service, on: worker)
                if port == 0 { port = listener.address.port }
                bound = bound ?? listener.address
            }
            if let bound { addresses.append(bound) }
        }
        return addresses
    }

    private func listen(host: String, port: UInt16, alone: Bool, _ service: Service, on worker: LoopWorker) throws -> Listener {
        let address = try SocketAddress.resolve(host: host, port: port)
        // `::` as the only host serves IPv4 too; next to other hosts it is IPv6 only.
        let dualStack = alone && address.isIPv6Wildcard
        let reusePort = configuration.threads > 1
        let socket: Socket
        do {
            if reusePort && port != 0 && worker === workers.first {
                try Socket.checkAvailable(address, dualStack: dualStack)
            }
            socket = try Socket.listen(on: address, dualStack: dualStack, reusePort: reusePort)
        } catch {
            throw ListenError(address: address, name: service.name, cause: error)
        }
        return try makeListener(socket, service, on: worker)
    }

    private func makeListener(_ socket: Socket, _ service: Service, on worker: LoopWorker) throws -> Listener {
        let listener = try Listener(loop: worker.loop, shared: shared, socket: socket, name: service.name, policy: service.policy,
                                    maxConnections: configuration.maxConnections,
                                    refusalMessage: service.refusalMessage,
                                    makeTransport: service.transport,
                                    makePreamble: service.preamble,
                                    makeApplication: service.application,
                                    counters: worker.counters, traffic: worker.counters[keyPath: service.traffic])
        worker.add(listener)
        return listener
    }
}
