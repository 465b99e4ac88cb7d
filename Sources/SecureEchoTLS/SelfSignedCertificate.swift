// The ephemeral certificate used when no --cert is given, made with OpenSSL's API in-process:
// P-256 key, SHA-256 signature, SAN localhost/127.0.0.1/::1, a validity of days, not years.
import SecureEchoSystem
import COpenSSL

/// Owns an X509 and its EVP_PKEY until the context has taken its own references.
package final class SelfSignedCertificate {
    package let x509: OpaquePointer
    package let key: OpaquePointer

    package static let validitySeconds = 7 * 24 * 3600
    package static let subjectAltNames = "DNS:localhost,IP:127.0.0.1,IP:::1"

    private init(x509: OpaquePointer, key: OpaquePointer) {
        self.x509 = x509
        self.key = key
    }

    deinit {
        X509_free(x509)
        EVP_PKEY_free(key)
    }

    package static func make(commonName: String = "secure-echo ephemeral",
                             subjectAltNames: String = subjectAltNames) throws(TLSContextError) -> SelfSignedCertificate {
        ERR_clear_error()
        guard let key = COpenSSL_EVP_EC_gen("P-256") else { throw .library(.drain("EVP_EC_gen")) }
        guard let x509 = X509_new() else {
            EVP_PKEY_free(key)
            throw .library(.drain("X509_new"))
        }
        let certificate = SelfSignedCertificate(x509: x509, key: key)

        var serial = [UInt8](repeating: 0, count: 16)
        guard RAND_bytes(&serial, Int32(serial.count)) == 1 else { throw .library(.drain("RAND_bytes")) }
        serial[0] &= 0x7f  // a positive serial number
        guard let bignum = BN_bin2bn(serial, Int32(serial.count), nil) else { throw .library(.drain("BN_bin2bn")) }
        defer { BN_free(bignum) }

        // Backdated an hour so that a client whose clock lags a little still accepts it.
        guard X509_set_version(x509, 2) == 1,
              BN_to_ASN1_INTEGER(bignum, X509_get_serialNumber(x509)) != nil,
              X509_gmtime_adj(X509_getm_notBefore(x509), -3600) != nil,
              X509_gmtime_adj(X509_getm_notAfter(x509), validitySeconds) != nil,
              X509_set_pubkey(x509, key) == 1,
              let name = X509_get_subject_name(x509),
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, commonName, -1, -1, 0) == 1,
              X509_set_issuer_name(x509, name) == 1 else {
            throw .library(.drain("X509 fields"))
        }
        try add(NID_subject_alt_name, subjectAltNames, to: x509)  // the parameter
        try add(NID_basic_constraints, "critical,CA:FALSE", to: x509)
        try add(NID_key_usage, "critical,digitalSignature", to: x509)
        try add(NID_ext_key_usage, "serverAuth", to: x509)
        guard X509_sign(x509, key, EVP_sha256()) > 0 else { throw .library(.drain("X509_sign")) }
        return certificate
    }

    private static func add(_ nid: Int32, _ value: String, to x509: OpaquePointer) throws(TLSContextError) {
        var v3 = X509V3_CTX()
        X509V3_set_ctx(&v3, x509, x509, nil, nil, 0)
        guard let ext = X509V3_EXT_conf_nid(nil, &v3, nid, value) else {
            throw .library(.drain("X509V3_EXT_conf_nid \(value)"))
        }
        defer { X509_EXTENSION_free(ext) }
        guard X509_add_ext(x509, ext, -1) == 1 else { throw .library(.drain("X509_add_ext")) }
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
