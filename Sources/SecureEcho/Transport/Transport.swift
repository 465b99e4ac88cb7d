// The byte pipe a Connection talks to. TLS and plain TCP implement it; the echo
// logic above it exists once and never asks which one it has.
import SecureEchoSystem
import SecureEchoTLS

package protocol Transport: AnyObject {
    /// "tls" or "plain", for logs.
    var name: String { get }
    /// What the TLS handshake settled, once it is done; nil for plain TCP.
    var session: NegotiatedSession? { get }
    /// The client's first ClientHello (TLS servers), parsed, or why it could not be; nil for
    /// plain TCP, before it arrives, and once released.
    var clientHello: Result<ClientHello, ClientHelloError>? { get }
    /// Nothing will read the ClientHello again: free it.
    func releaseClientHello()
    /// How far an unfinished handshake got, for logs; nil when there is nothing to say.
    var handshakeProgress: String? { get }
    var descriptor: CInt { get }
    /// What the loop's poller receives for the socket, when it receives at all (io_uring).
    var completedReceive: CompletedReceive? { get }
    /// Where the loop's poller sends for the socket, when it does (io_uring).
    var queuedSend: QueuedSend? { get }
    /// Written bytes the kernel has not sent yet (only with a queued send): an abrupt close
    /// that must still deliver them waits for writability first.
    var hasUnsentOutput: Bool { get }
    /// Completes the transport-level handshake; plain TCP is done at once.
    func handshake() throws(TransportError) -> Step
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> IOResult
    /// A write that returned `.wouldBlock` must be retried with the same leading bytes.
    func write(_ bytes: UnsafeRawBufferPointer) throws(TransportError) -> IOResult
    /// Reads the socket underneath, before the handshake has started (a preamble such as a
    /// PROXY header). TLS has read nothing yet then, so these bytes never reach OpenSSL.
    func readBeforeHandshake(into buffer: UnsafeMutableRawBufferPointer, peek: Bool) throws(TransportError) -> IOResult
    /// Input already pulled off the socket but not yet returned by `read` (it will not wake the poller).
    var hasBufferedInput: Bool { get }
    /// Ends our direction of the stream (TCP FIN, or TLS close_notify), keeping the read side open.
    func shutdownOutput() throws(TransportError) -> Step
    /// Releases the descriptor. Idempotent.
    func close()
    /// The close that follows sends a RST (test profiles only).
    func resetOnClose()
}

extension Socket {
    /// `readBeforeHandshake` for transports that own a socket.
    package func readPreamble(into buffer: UnsafeMutableRawBufferPointer, peek: Bool) throws(TransportError) -> IOResult {
        let result: SyscallResult<Int>
        do { result = try receive(into: buffer, peek: peek) } catch { throw TransportError(error) }
        switch result {
        case .done(0): return .endOfStream
        case .done(let count): return .bytes(count)
        case .wouldBlock: return .wouldBlock(.readable)
        }
    }
}

extension Transport {
    /// Transports without a TLS handshake have no ClientHello.
    package var clientHello: Result<ClientHello, ClientHelloError>? { nil }
    package func releaseClientHello() {}
    /// Transports that own no socket receive nothing through the poller.
    package var completedReceive: CompletedReceive? { nil }
    package var queuedSend: QueuedSend? { nil }
    package var hasUnsentOutput: Bool { false }

    /// "TLSv1.3/TLS_AES_256_GCM_SHA384", nil for plain TCP.
    package var negotiated: String? { session?.summary }
}
