// TLS over a non-blocking socket: every call goes through the TLSSession, which maps
// OpenSSL's WANT_READ/WANT_WRITE onto the same outcomes plain TCP produces.

final class TLSTransport: Transport {
    private let socket: Socket
    private let session: TLSSession

    /// `serverName` is sent as SNI when the context is a client's.
    init(socket: Socket, context: TLSContext, serverName: String? = nil) throws {
        self.socket = socket
        self.session = try TLSSession(context: context, fd: socket.descriptor, serverName: serverName)
    }

    var name: String { "tls" }
    var negotiated: String? { "\(session.negotiated) \(session.handshakeDetails)" }
    var handshakeProgress: String? { session.handshakeProgress }
    var descriptor: CInt { socket.descriptor }
    var hasBufferedInput: Bool { session.hasBufferedInput }

    func handshake() throws -> Step { try session.handshake() }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> IOResult { try session.read(into: buffer) }
    func write(_ bytes: UnsafeRawBufferPointer) throws -> IOResult { try session.write(bytes) }
    func shutdownOutput() throws -> Step { try session.shutdown() }
    func close() { socket.close() }
}
