// The ephemeral certificate used when no --cert is given: P-256, SHA-256, SAN
// localhost/127.0.0.1/::1, a validity of days, not years, made by CertificateIssuer.
import SecureEchoSystem
import COpenSSL

package enum SelfSignedCertificate {
    package static let validitySeconds = 7 * 24 * 3600
    package static let subjectAltNames = "DNS:localhost,IP:127.0.0.1,IP:::1"

    /// Backdated an hour so that a client whose clock lags a little still accepts it.
    package static func make(commonName: String = "secure-echo ephemeral",
                             subjectAltNames: String = subjectAltNames) throws(TLSContextError) -> CertificateAndKey {
        try CertificateIssuer.issue(CertificateRequest(commonName: commonName, role: .server, subjectAltNames: subjectAltNames,
                                                       notBefore: -3600, notAfter: validitySeconds))
    }

    /// "AB:CD:…", the SHA-256 digest of the DER certificate, as `openssl x509 -fingerprint -sha256` prints it.
    package static func fingerprint(of x509: OpaquePointer?) -> String? {
        guard let x509 else { return nil }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(x509, EVP_sha256(), &digest, &length) == 1 else {
            ERR_clear_error()
            return nil
        }
        let hex = Array("0123456789ABCDEF")
        return digest.prefix(Int(length)).map { String([hex[Int($0 >> 4)], hex[Int($0 & 15)]]) }.joined(separator: ":")
    }
}
