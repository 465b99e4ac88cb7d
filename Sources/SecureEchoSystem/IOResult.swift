// The vocabulary of one non-blocking I/O attempt, shared by sockets, TLS sessions and
// transports: would-block and end-of-stream are outcomes, not errors.

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
