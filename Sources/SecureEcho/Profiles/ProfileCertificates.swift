// Every certificate the profiles serve, made once at start from one CA: a root (made here or
// given with --profile-ca), an intermediate under it, and a leaf per profile. The files a
// client needs are written to --profile-dir: the root to trust, and a client certificate.
import SecureEchoSystem
import SecureEchoTLS
#if canImport(Glibc)
import Glibc
#endif

final class ProfileCertificates {
    /// The root clients are told to trust (DIR/ca.pem).
    let root: CertificateAndKey
    let intermediate: CertificateAndKey
    /// Issued by the root, for client-cert-required (DIR/client.pem, DIR/client.key).
    let client: CertificateAndKey
    let directory: String

    static let names = "DNS:localhost,IP:127.0.0.1,IP:::1"
    private static let day = 24 * 3600

    init(directory: String, authority: ProfileAuthoritySource?) throws {
        self.directory = directory
        if let authority {
            root = try CertificateAndKey.load(certificate: authority.certificate, key: authority.key)
        } else {
            root = try CertificateIssuer.issue(CertificateRequest(commonName: "secure-echo profile root CA",
                                                                  role: .authority(pathLength: nil), notAfter: 30 * Self.day))
        }
        intermediate = try CertificateIssuer.issue(CertificateRequest(commonName: "secure-echo profile intermediate CA",
                                                                      role: .authority(pathLength: 0), notAfter: 30 * Self.day), by: root)
        client = try CertificateIssuer.issue(CertificateRequest(commonName: "secure-echo profile client", role: .client), by: root)
    }

    var caPath: String { directory + "/ca.pem" }

    /// Writes ca.pem, client.pem and client.key (mode 600), each replaced atomically.
    func write() throws {
        var status = stat()
        if stat(directory, &status) != 0 {
            do {
                try syscall("mkdir \(directory)", { mkdir(directory, 0o755) })
            } catch {
                throw ProfileDirectoryError(directory: directory, reason: error.reason)
            }
        } else if status.st_mode & S_IFMT != S_IFDIR {
            throw ProfileDirectoryError(directory: directory, reason: "not a directory")
        }
        do {
            try FileAccess.replace(caPath, with: root.certificatePEM, mode: 0o644)
            try FileAccess.replace(directory + "/client.pem", with: client.certificatePEM, mode: 0o644)
            try FileAccess.replace(directory + "/client.key", with: client.keyPEM, mode: 0o600)
        } catch {
            throw ProfileDirectoryError(directory: directory, reason: error.description)
        }
    }

    /// The certificate a profile serves and the chain sent after it.
    func source(for profile: TLSProfile) throws -> CertificateSource {
        func leaf(_ name: String = "localhost", names: String = Self.names, notBefore: Int = -3600, notAfter: Int = 7 * Self.day,
                  by issuer: CertificateAndKey?) throws -> CertificateAndKey {
            try CertificateIssuer.issue(CertificateRequest(commonName: name, role: .server, subjectAltNames: names,
                                                           notBefore: notBefore, notAfter: notAfter), by: issuer)
        }
        switch profile {
        case .expired:
            return .issued(try leaf(notBefore: -30 * Self.day, notAfter: -Self.day, by: intermediate), chain: [intermediate])
        case .notYetValid:
            return .issued(try leaf(notBefore: Self.day, notAfter: 30 * Self.day, by: intermediate), chain: [intermediate])
        case .wrongHost:
            return .issued(try leaf("wrong.host.invalid", names: "DNS:wrong.host.invalid", by: intermediate), chain: [intermediate])
        case .selfSigned:
            return .issued(try leaf(by: nil), chain: [])
        case .untrustedRoot:
            // A chain as complete as good's, to a root that is written nowhere.
            let stranger = try CertificateIssuer.issue(CertificateRequest(commonName: "secure-echo untrusted root CA",
                                                                          role: .authority(pathLength: nil)))
            let strangerIntermediate = try CertificateIssuer.issue(CertificateRequest(commonName: "secure-echo untrusted intermediate CA",
                                                                                      role: .authority(pathLength: 0)), by: stranger)
            return .issued(try leaf(by: strangerIntermediate), chain: [strangerIntermediate, stranger])
        case .incompleteChain:
            return .issued(try leaf(by: intermediate), chain: [])
        case .reversedChain:
            return .issued(try leaf(by: intermediate), chain: [root, intermediate])
        case .good, .tls12Only, .tls13Only, .clientCertRequired, .handshakeStall, .handshakeAlert, .noCloseNotify,
             .resetAfterHandshake, .slowEcho:
            return .issued(try leaf(by: intermediate), chain: [intermediate])
        }
    }
}

/// --profile-dir cannot be written, naming it.
public struct ProfileDirectoryError: Error, CustomStringConvertible, Sendable {
    public let directory: String
    public let reason: String
    public var description: String { "--profile-dir \(directory): \(reason)" }
}
