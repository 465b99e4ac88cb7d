// TLS over a non-blocking socket: every call goes through the TLSSession, which maps
// OpenSSL's WANT_READ/WANT_WRITE onto the same outcomes plain TCP produces. The one place
// above the TLS layer that sees OpenSSL's errors: they leave here as TransportErrors.
import SecureEchoSystem
import SecureEchoTLS

package final class TLSTransport: Transport {
    private let socket: Socket
    private let tls: TLSSession
    /// SSL_shutdown has written our close_notify (it may still be queued for sending).
    private var closeNotifyWritten = false

    /// `serverName` is sent as SNI when the context is a client's.
    package init(socket: Socket, context: TLSContext, serverName: String? = nil) throws(OpenSSLError) {
        self.socket = socket
        self.tls = try TLSSession(context: context, fd: socket.descriptor, completedReceive: socket.completedReceive,
                                  queuedSend: socket.queuedSend, serverName: serverName)
    }

    package var name: String { "tls" }
    package var session: NegotiatedSession? { tls.session }
    package var handshakeProgress: String? { tls.handshakeProgress }
    package var clientHello: Result<ClientHello, ClientHelloError>? { tls.clientHello }
    package func releaseClientHello() { tls.releaseClientHello() }
    package var descriptor: CInt { socket.descriptor }
    package var completedReceive: CompletedReceive? { socket.completedReceive }
    package var queuedSend: QueuedSend? { socket.queuedSend }
    package var hasUnsentOutput: Bool { socket.hasUnsentOutput }
    package var hasBufferedInput: Bool { tls.hasBufferedInput }

    package func handshake() throws(TransportError) -> Step {
        do { return try tls.handshake() } catch { throw Self.map(error, handshaking: true) }
    }

    package func readBeforeHandshake(into buffer: UnsafeMutableRawBufferPointer, peek: Bool) throws(TransportError) -> IOResult {
        try socket.readPreamble(into: buffer, peek: peek)
    }

    package func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> IOResult {
        do { return try tls.read(into: buffer) } catch { throw Self.map(error, handshaking: false) }
    }

    package func write(_ bytes: UnsafeRawBufferPointer) throws(TransportError) -> IOResult {
        do { return try tls.write(bytes) } catch { throw Self.map(error, handshaking: false) }
    }

    package func shutdownOutput() throws(TransportError) -> Step {
        if !closeNotifyWritten {
            do {
                if case .wouldBlock(let interest) = try tls.shutdown() { return .wouldBlock(interest) }
            } catch {
                throw Self.map(error, handshaking: false)
            }
            closeNotifyWritten = true
        }
        // A queued close_notify is ours only once the kernel has sent it.
        return socket.hasUnsentOutput ? .wouldBlock(.writable) : .done
    }

    package func close() { socket.close() }
    package func resetOnClose() { socket.setResetOnClose() }

    private static func map(_ error: TLSSessionError, handshaking: Bool) -> TransportError {
        switch error {
        case .system(let error):
            return TransportError(error)
        case .library(let error):
            return TransportError(handshaking ? .handshakeFailed : .protocolFailure, error.reasons.joined(separator: "; "))
        }
    }
}
