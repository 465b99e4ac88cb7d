// Why a TLS session failed: the socket under it, or OpenSSL itself. Typed, so the hot path
// never boxes an error, and the transport above can say which it was.
import SecureEchoSystem

package enum TLSSessionError: Error, CustomStringConvertible, Sendable {
    /// The socket failed (SSL_ERROR_SYSCALL with an errno): a reset, a broken pipe.
    case system(SystemCallError)
    /// OpenSSL reported a protocol or library error, with every reason on its queue.
    case library(OpenSSLError)

    package var description: String {
        switch self {
        case .system(let error): return error.description
        case .library(let error): return error.description
        }
    }
}
