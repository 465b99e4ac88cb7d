// Owns one SSL_CTX: the TLS policy and certificate shared by every session of a listener.
import COpenSSL
#if canImport(Glibc)
import Glibc
#endif

/// Where the server's certificate comes from.
public enum CertificateSource: Sendable, Equatable {
    /// A self-signed P-256 certificate made in memory at start.
    case ephemeral
    /// PEM files: a certificate chain (leaf first) and its private key.
    case files(certificate: String, key: String)
}

/// Wraps `SSL_CTX *`. Immutable once built; OpenSSL locks its shared parts (session cache,
/// reference counts) internally, so sessions on several threads may share one context.
public final class TLSContext: @unchecked Sendable {
    let pointer: OpaquePointer
    public let isServer: Bool
    /// SHA-256 fingerprint of the served leaf certificate ("AB:CD:…"), or nil for a client context.
    public let fingerprint: String?

    deinit { SSL_CTX_free(pointer) }

    private init(pointer: OpaquePointer, isServer: Bool, fingerprint: String?) {
        self.pointer = pointer
        self.isServer = isServer
        self.fingerprint = fingerprint
    }

    // MARK: - Server

    public static func server(_ source: CertificateSource, minimumVersion: TLSVersion = .tls12) throws(TLSContextError) -> TLSContext {
        guard let ctx = SSL_CTX_new(TLS_server_method()) else {
            throw .library(.drain("SSL_CTX_new"))
        }
        do throws(TLSContextError) {
            try applyServerPolicy(ctx, minimumVersion: minimumVersion)
            try useCertificate(source, in: ctx)
        } catch {
            SSL_CTX_free(ctx)
            throw error
        }
        return TLSContext(pointer: ctx, isServer: true,
                          fingerprint: SelfSignedCertificate.fingerprint(of: SSL_CTX_get0_certificate(ctx)))
    }

    private static func useCertificate(_ source: CertificateSource, in ctx: OpaquePointer) throws(TLSContextError) {
        switch source {
        case .ephemeral:
            let certificate = try SelfSignedCertificate.make()
            guard SSL_CTX_use_certificate(ctx, certificate.x509) == 1,
                  SSL_CTX_use_PrivateKey(ctx, certificate.key) == 1 else {
                throw .library(.drain("SSL_CTX_use_certificate"))
            }
        case .files(let certificatePath, let keyPath):
            try checkReadable(certificatePath)
            try checkReadable(keyPath)
            ERR_clear_error()
            guard SSL_CTX_use_certificate_chain_file(ctx, certificatePath) == 1 else {
                throw .badCertificate(path: certificatePath, .drain("SSL_CTX_use_certificate_chain_file"))
            }
            guard SSL_CTX_use_PrivateKey_file(ctx, keyPath, SSL_FILETYPE_PEM) == 1 else {
                let error = OpenSSLError.drain("SSL_CTX_use_PrivateKey_file")
                if error.reasons.contains(where: { $0.contains("key values mismatch") }) {
                    throw .keyMismatch(certificate: certificatePath, key: keyPath)
                }
                throw .badPrivateKey(path: keyPath, error)
            }
            guard SSL_CTX_check_private_key(ctx) == 1 else {
                ERR_clear_error()
                throw .keyMismatch(certificate: certificatePath, key: keyPath)
            }
        }
    }

    /// TLS 1.2+, forward-secret AEAD suites for 1.2, no compression or renegotiation, and the
    /// non-blocking modes our write path relies on.
    private static func applyServerPolicy(_ ctx: OpaquePointer, minimumVersion: TLSVersion) throws(TLSContextError) {
        guard COpenSSL_SSL_CTX_set_min_proto_version(ctx, minimumVersion.rawValue) == 1,
              SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") == 1 else {
            throw .library(.drain("SSL_CTX_set_min_proto_version"))
        }
        // Echo has no framing that could detect truncation, so a peer that just closes TCP
        // (nc-style TLS clients) ends the stream like close_notify would, instead of being
        // reported by OpenSSL 3 as "unexpected eof while reading".
        SSL_CTX_set_options(ctx,
            COpenSSL_SSL_OP_IGNORE_UNEXPECTED_EOF() | COpenSSL_SSL_OP_NO_RENEGOTIATION()
            | COpenSSL_SSL_OP_CIPHER_SERVER_PREFERENCE() | COpenSSL_SSL_OP_NO_COMPRESSION())
        applyNonBlockingModes(ctx)
    }

    /// Partial writes let one SSL_write finish after a single record; moving buffers let a retry
    /// come from a buffer that was reallocated; released buffers keep idle sessions small.
    private static func applyNonBlockingModes(_ ctx: OpaquePointer) {
        _ = COpenSSL_SSL_CTX_set_mode(ctx,
            Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS))
    }

    private static func checkReadable(_ path: String) throws(TLSContextError) {
        guard let file = fopen(path, "r") else {
            throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        fclose(file)
    }

    // MARK: - Client (tests and tools)

    /// A client context. Without `caFile` the server is not verified (test servers are self-signed).
    public static func client(caFile: String? = nil, minVersion: TLSVersion? = nil, maxVersion: TLSVersion? = nil) throws(TLSContextError) -> TLSContext {
        guard let ctx = SSL_CTX_new(TLS_client_method()) else {
            throw .library(.drain("SSL_CTX_new"))
        }
        let context = TLSContext(pointer: ctx, isServer: false, fingerprint: nil)  // frees ctx on any throw below
        if let caFile {
            try checkReadable(caFile)
            guard SSL_CTX_load_verify_locations(ctx, caFile, nil) == 1 else {
                throw .badCertificate(path: caFile, .drain("SSL_CTX_load_verify_locations"))
            }
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        }
        if let minVersion { _ = COpenSSL_SSL_CTX_set_min_proto_version(ctx, minVersion.rawValue) }
        if let maxVersion { _ = COpenSSL_SSL_CTX_set_max_proto_version(ctx, maxVersion.rawValue) }
        applyNonBlockingModes(ctx)
        return context
    }
}

public enum TLSVersion: Int32, Sendable, CaseIterable {
    case tls12 = 0x0303
    case tls13 = 0x0304
}
