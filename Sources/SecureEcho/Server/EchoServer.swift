// Composes the pieces: the TLS context, the listeners and the event loop they share.
import Logging

public final class EchoServer {
    private let loop: EventLoop
    private var listeners: [Listener] = []
    public let configuration: ServerConfiguration
    /// The TLS listener's bound address, when there is one.
    public private(set) var tlsAddress: SocketAddress?
    /// The plain listener's bound address, when there is one.
    public private(set) var plainAddress: SocketAddress?
    /// SHA-256 fingerprint of the served certificate (TLS only).
    public private(set) var fingerprint: String?

    /// Loads the certificate and binds every listener; throws, naming the file or
    /// host:port at fault, before anything is served.
    public init(configuration: ServerConfiguration, logger: Logger) throws {
        try configuration.validate()
        self.configuration = configuration
        loop = EventLoop(poller: try makePoller(configuration.poller), logger: logger)
        let policy = EchoPolicy(
            mode: configuration.mode,
            maxLine: configuration.maxLine,
            handshakeTimeout: UInt64(configuration.handshakeTimeout * 1e9),
            idleTimeout: UInt64(configuration.idleTimeout * 1e9))

        if let port = configuration.tlsPort {
            let context = try TLSContext.server(configuration.certificate)
            fingerprint = context.fingerprint
            let listener = try listen(port: port, name: "tls", policy: policy) { socket in
                try TLSTransport(socket: socket, context: context)
            }
            tlsAddress = listener.address
            if configuration.certificate == .ephemeral, let fingerprint {
                logger.notice("ephemeral self-signed certificate for localhost, 127.0.0.1, ::1; sha256 fingerprint \(fingerprint)")
            }
        }
        if let port = configuration.plainPort {
            plainAddress = try listen(port: port, name: "plain", policy: policy) { socket in
                PlainTransport(socket: socket)
            }.address
        }
    }

    /// `ready tls=127.0.0.1:8443 plain=127.0.0.1:8000`, a disabled listener omitted.
    public var readyLine: String {
        var parts = ["ready"]
        if let tlsAddress { parts.append("tls=\(tlsAddress)") }
        if let plainAddress { parts.append("plain=\(plainAddress)") }
        return parts.joined(separator: " ")
    }

    /// Serves until the process ends.
    public func run() throws {
        loop.logger.info("serving with \(loop.poller.kind) mode=\(configuration.mode) max_line=\(configuration.maxLine)")
        try loop.run()
    }

    private func listen(port: UInt16, name: String, policy: EchoPolicy,
                        transport: @escaping Listener.TransportFactory) throws -> Listener {
        let address = try SocketAddress.resolve(host: configuration.host, port: port)
        let socket: Socket
        do {
            socket = try Socket.listen(on: address)
        } catch {
            throw ListenError(address: address, name: name, cause: error)
        }
        let listener = try Listener(loop: loop, socket: socket, name: name, policy: policy, makeTransport: transport)
        listeners.append(listener)
        return listener
    }
}

/// A listener that could not be opened, naming host:port.
public struct ListenError: Error, CustomStringConvertible, Sendable {
    public let address: SocketAddress
    public let name: String
    public let cause: SystemCallError
    public var description: String { "cannot listen on \(address) (\(name)): \(cause.reason)" }
}
