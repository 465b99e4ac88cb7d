// Why a TLS context could not be built, naming the file at fault.
import SecureEchoSystem

public enum TLSContextError: Error, CustomStringConvertible, Sendable {
    /// The file could not be opened at all (missing, unreadable).
    case unreadable(path: String, reason: String)
    /// The file was read, but OpenSSL could not use it as a certificate chain.
    case badCertificate(path: String, OpenSSLError)
    /// The file was read, but OpenSSL could not use it as a private key.
    case badPrivateKey(path: String, OpenSSLError)
    /// Both loaded, but the key is not the certificate's.
    case keyMismatch(certificate: String, key: String)
    /// Context creation or ephemeral certificate generation failed inside OpenSSL.
    case library(OpenSSLError)
    /// A --ticket-key-file that is not a 48- or 80-byte key.
    case badTicketKey(path: String, reason: String)
    /// OpenSSL refused the --groups list (an unknown or unsupported group).
    case badGroups(String, OpenSSLError)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .badCertificate(let path, let error):
            return "cannot load certificate \(path): \(error.reasons.joined(separator: "; "))"
        case .badPrivateKey(let path, let error):
            return "cannot load private key \(path): \(error.reasons.joined(separator: "; "))"
        case .keyMismatch(let certificate, let key):
            return "private key \(key) does not match certificate \(certificate)"
        case .library(let error):
            return "OpenSSL: \(error)"
        case .badTicketKey(let path, let reason):
            return "ticket key file \(path): \(reason)"
        case .badGroups(let list, let error):
            let reasons = error.reasons.joined(separator: "; ")
            return "--groups '\(list)' is not a list of groups OpenSSL supports" + (reasons.isEmpty ? "" : ": \(reasons)")
        }
    }
}
