// What each profile changes: the TLS options it serves with, and the preamble or
// application that replace the echo port's. Everything else is the TLS port's.
import SecureEchoTLS

struct ProfileSetup {
    var tls: TLSServerOptions
    /// nil: the server's own (a PROXY header reader, or none).
    var preamble: PreambleFactory?
    /// nil: the server's echo.
    var application: ApplicationFactory?
    /// Nanoseconds between the bytes it sends, one at a time.
    var pace: UInt64?

    /// The server's policy (versions, groups, ALPN, resumption, key log, ticket keys) with the
    /// profile's certificate; no client certificates are asked for but by the profile that
    /// requires one.
    init(_ profile: TLSProfile, server: TLSServerOptions, certificates: ProfileCertificates, maxLine: Int) throws {
        tls = server
        tls.certificates = [try certificates.source(for: profile)]
        tls.clientCA = nil
        switch profile {
        case .tls12Only:
            tls.minimumVersion = .tls12
            tls.maximumVersion = .tls12
        case .tls13Only:
            tls.minimumVersion = .tls13
            tls.maximumVersion = nil
        case .clientCertRequired:
            tls.clientCA = certificates.caPath
            tls.clientAuth = .required
        case .handshakeAlert:
            tls.refuseEveryHandshake = true
        case .handshakeStall:
            preamble = { StallingPreamble() }
        case .noCloseNotify:
            application = { OneLineThenHangUp(maxLine: maxLine) }
        case .resetAfterHandshake:
            application = { ResetAfterHandshake() }
        case .slowEcho:
            pace = 100_000_000
        case .good, .expired, .notYetValid, .wrongHost, .selfSigned, .untrustedRoot, .incompleteChain, .reversedChain:
            break
        }
    }
}
