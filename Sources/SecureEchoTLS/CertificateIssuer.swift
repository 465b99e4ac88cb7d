// Certificates made in-process with OpenSSL's API: the ephemeral one, and the CA, intermediate
// and leaves of the test profiles. Each carries what strict verifiers require (Python 3.13's
// default context sets VERIFY_X509_STRICT): subject and authority key identifiers, a critical
// basicConstraints, a key usage that fits its role.
import SecureEchoSystem
import COpenSSL

/// An X509 and its private key, owned (freed together).
public final class CertificateAndKey: @unchecked Sendable {
    package let x509: OpaquePointer
    package let key: OpaquePointer

    fileprivate init(x509: OpaquePointer, key: OpaquePointer) {
        self.x509 = x509
        self.key = key
    }

    deinit {
        X509_free(x509)
        EVP_PKEY_free(key)
    }

    /// Loads a PEM certificate and key (--profile-ca, --profile-ca-key).
    package static func load(certificate certificatePath: String, key keyPath: String) throws(TLSContextError) -> CertificateAndKey {
        try TLSContext.checkReadable(certificatePath)
        try TLSContext.checkReadable(keyPath)
        ERR_clear_error()
        guard let certificateFile = BIO_new_file(certificatePath, "r") else { throw .badCertificate(path: certificatePath, .drain("BIO_new_file")) }
        defer { BIO_free(certificateFile) }
        guard let x509 = PEM_read_bio_X509(certificateFile, nil, nil, nil) else {
            throw .badCertificate(path: certificatePath, .drain("PEM_read_bio_X509"))
        }
        guard let keyFile = BIO_new_file(keyPath, "r") else {
            X509_free(x509)
            throw .badPrivateKey(path: keyPath, .drain("BIO_new_file"))
        }
        defer { BIO_free(keyFile) }
        guard let key = PEM_read_bio_PrivateKey(keyFile, nil, nil, nil) else {
            X509_free(x509)
            throw .badPrivateKey(path: keyPath, .drain("PEM_read_bio_PrivateKey"))
        }
        let pair = CertificateAndKey(x509: x509, key: key)
        guard X509_check_private_key(x509, key) == 1 else {
            ERR_clear_error()
            throw .keyMismatch(certificate: certificatePath, key: keyPath)
        }
        return pair
    }

    /// The same certificate and key, the certificate parsed back from its DER. OpenSSL keeps
    /// the DER of a certificate it decoded and sends it as is; one built field by field is
    /// encoded anew in every handshake (68,000 instructions, about 3 % of a full one, measured).
    fileprivate func reparsed() throws(TLSContextError) -> CertificateAndKey {
        var der: UnsafeMutablePointer<UInt8>?
        let length = i2d_X509(x509, &der)
        guard length > 0, let der else { throw .library(.drain("i2d_X509")) }
        defer { COpenSSL_OPENSSL_free(der) }
        var cursor: UnsafePointer<UInt8>? = UnsafePointer(der)
        guard let copy = d2i_X509(nil, &cursor, Int(length)) else { throw .library(.drain("d2i_X509")) }
        guard EVP_PKEY_up_ref(key) == 1 else {
            X509_free(copy)
            throw .library(.drain("EVP_PKEY_up_ref"))
        }
        return CertificateAndKey(x509: copy, key: key)
    }

    /// The certificate in PEM.
    package var certificatePEM: String { Self.pem { bio in PEM_write_bio_X509(bio, x509) } }

    /// The private key in PEM (PKCS#8, unencrypted).
    package var keyPEM: String { Self.pem { bio in PEM_write_bio_PrivateKey(bio, key, nil, nil, 0, nil, nil) } }

    private static func pem(_ write: (OpaquePointer) -> Int32) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else {
            ERR_clear_error()
            return ""
        }
        var bytes = [UInt8](repeating: 0, count: Int(BIO_ctrl_pending(bio)))
        let count = BIO_read(bio, &bytes, Int32(bytes.count))
        return String(decoding: bytes.prefix(Int(max(count, 0))), as: UTF8.self)
    }
}

/// What a certificate is for.
package enum CertificateRole: Sendable {
    /// A root or intermediate CA; `pathLength` limits the CAs below it.
    case authority(pathLength: Int?)
    case server
    case client
}

package struct CertificateRequest: Sendable {
    package var commonName: String
    package var role: CertificateRole
    /// "DNS:localhost,IP:127.0.0.1,IP:::1"; nil for none.
    package var subjectAltNames: String?
    /// Seconds from now (negative: in the past).
    package var notBefore = -3600
    package var notAfter = 7 * 24 * 3600

    package init(commonName: String, role: CertificateRole, subjectAltNames: String? = nil,
                 notBefore: Int = -3600, notAfter: Int = 7 * 24 * 3600) {
        self.commonName = commonName
        self.role = role
        self.subjectAltNames = subjectAltNames
        self.notBefore = notBefore
        self.notAfter = notAfter
    }
}

package enum CertificateIssuer {
    /// A P-256 key and a certificate for it, signed by `issuer` (self-signed when nil), SHA-256.
    package static func issue(_ request: CertificateRequest, by issuer: CertificateAndKey? = nil) throws(TLSContextError) -> CertificateAndKey {
        ERR_clear_error()
        guard let key = COpenSSL_EVP_EC_gen("P-256") else { throw .library(.drain("EVP_EC_gen")) }
        guard let x509 = X509_new() else {
            EVP_PKEY_free(key)
            throw .library(.drain("X509_new"))
        }
        let issued = CertificateAndKey(x509: x509, key: key)

        var serial = [UInt8](repeating: 0, count: 16)
        guard RAND_bytes(&serial, Int32(serial.count)) == 1 else { throw .library(.drain("RAND_bytes")) }
        serial[0] &= 0x7f  // a positive serial number
        guard let bignum = BN_bin2bn(serial, Int32(serial.count), nil) else { throw .library(.drain("BN_bin2bn")) }
        defer { BN_free(bignum) }

        guard X509_set_version(x509, 2) == 1,
              BN_to_ASN1_INTEGER(bignum, X509_get_serialNumber(x509)) != nil,
              X509_gmtime_adj(X509_getm_notBefore(x509), request.notBefore) != nil,
              X509_gmtime_adj(X509_getm_notAfter(x509), request.notAfter) != nil,
              X509_set_pubkey(x509, key) == 1,
              let name = X509_get_subject_name(x509),
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, request.commonName, -1, -1, 0) == 1,
              X509_set_issuer_name(x509, issuer.map { X509_get_subject_name($0.x509) } ?? name) == 1 else {
            throw .library(.drain("X509 fields"))
        }
        let signer = issuer?.x509 ?? x509
        // The subject key identifier first: a self-signed authority key identifier refers to it.
        try add(NID_subject_key_identifier, "hash", to: x509, issuer: signer)
        try add(NID_authority_key_identifier, "keyid:always", to: x509, issuer: signer)
        switch request.role {
        case .authority(let pathLength):
            try add(NID_basic_constraints, "critical,CA:TRUE" + (pathLength.map { ",pathlen:\($0)" } ?? ""), to: x509, issuer: signer)
            try add(NID_key_usage, "critical,keyCertSign,cRLSign", to: x509, issuer: signer)
        case .server, .client:
            try add(NID_basic_constraints, "critical,CA:FALSE", to: x509, issuer: signer)
            try add(NID_key_usage, "critical,digitalSignature", to: x509, issuer: signer)
            try add(NID_ext_key_usage, request.role.isServer ? "serverAuth" : "clientAuth", to: x509, issuer: signer)
        }
        if let names = request.subjectAltNames { try add(NID_subject_alt_name, names, to: x509, issuer: signer) }
        guard X509_sign(x509, issuer?.key ?? key, EVP_sha256()) > 0 else { throw .library(.drain("X509_sign")) }
        return try issued.reparsed()
    }

    private static func add(_ nid: Int32, _ value: String, to x509: OpaquePointer, issuer: OpaquePointer) throws(TLSContextError) {
        var v3 = X509V3_CTX()
        X509V3_set_ctx(&v3, issuer, x509, nil, nil, 0)
        guard let ext = X509V3_EXT_conf_nid(nil, &v3, nid, value) else {
            throw .library(.drain("X509V3_EXT_conf_nid \(value)"))
        }
        defer { X509_EXTENSION_free(ext) }
        guard X509_add_ext(x509, ext, -1) == 1 else { throw .library(.drain("X509_add_ext")) }
    }
}

extension CertificateRole {
    fileprivate var isServer: Bool {
        if case .server = self { return true }
        return false
    }
}
