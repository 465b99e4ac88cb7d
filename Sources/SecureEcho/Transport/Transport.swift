// The byte pipe a Connection talks to. TLS and plain TCP implement it; the echo
// logic above it exists once and never asks which one it has.

/// What one non-blocking read or write did. Would-block and end-of-stream are outcomes, not errors.
public enum IOResult: Equatable, Sendable {
    case bytes(Int)
    /// Try again once the socket is ready for this. TLS may cross directions: a read can need writability.
    case wouldBlock(Interest)
    /// The peer ended its stream (read returned 0, or TLS close_notify).
    case endOfStream
}

/// What one step of a multi-step operation (handshake, shutdown) did.
public enum Step: Equatable, Sendable {
    case done
    case wouldBlock(Interest)
}

protocol Transport: AnyObject {
    /// "tls" or "plain", for logs.
    var name: String { get }
    /// Negotiated protocol details for logs ("TLSv1.3/TLS_AES_256_GCM_SHA384"), nil when none.
    var negotiated: String? { get }
    /// How far an unfinished handshake got, for logs; nil when there is nothing to say.
    var handshakeProgress: String? { get }
    var descriptor: CInt { get }
    /// Completes the transport-level handshake; plain TCP is done at once.
    func handshake() throws -> Step
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> IOResult
    /// A write that returned `.wouldBlock` must be retried with the same leading bytes.
    func write(_ bytes: UnsafeRawBufferPointer) throws -> IOResult
    /// Input already pulled off the socket but not yet returned by `read` (it will not wake the poller).
    var hasBufferedInput: Bool { get }
    /// Ends our direction of the stream (TCP FIN, or TLS close_notify), keeping the read side open.
    func shutdownOutput() throws -> Step
    /// Releases the descriptor. Idempotent.
    func close()
}
