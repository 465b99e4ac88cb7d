// Why a transport gave up, in words the connection can log without knowing whether TLS or
// plain TCP was underneath: each transport turns its own failures (errno, OpenSSL's error
// queue) into one of these.
import SecureEchoSystem

package struct TransportError: Error, CustomStringConvertible, Sendable {
    package enum Kind: Sendable, Equatable {
        /// The peer reset the connection or vanished (ECONNRESET, EPIPE, ETIMEDOUT).
        case reset
        /// The TLS handshake failed: a bad ClientHello, no shared version or cipher, a refused certificate.
        case handshakeFailed
        /// The TLS layer failed after the handshake (a bad record, a bad MAC).
        case protocolFailure
        /// The peer ended its stream while echo it had sent was still to be written.
        case peerStoppedReading
        /// What the peer sent before the handshake (a PROXY header) was missing or malformed.
        case preambleRejected
        /// A system call failed in a way that is not the peer's doing.
        case system
    }

    package let kind: Kind
    /// The library's own words: strerror, or OpenSSL's reason strings joined by "; ".
    package let reason: String

    package init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    package init(_ error: SystemCallError) {
        self.init(error.isConnectionReset ? .reset : .system, error.isConnectionReset ? error.reason : error.description)
    }

    /// The close reason in the connection's log line.
    package var description: String {
        switch kind {
        case .reset: return "reset by peer (\(reason))"
        case .handshakeFailed: return "tls handshake failed: \(reason)"
        case .protocolFailure: return "tls error: \(reason)"
        case .peerStoppedReading: return "peer ended its stream before its echo was written (\(reason))"
        case .preambleRejected, .system: return reason
        }
    }
}
