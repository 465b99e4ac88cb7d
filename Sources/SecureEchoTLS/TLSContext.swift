// Owns one SSL_CTX: the TLS policy and certificate shared by every session of a listener.
import SecureEchoSystem
import COpenSSL
#if canImport(Glibc)
import Glibc
#endif

/// Wraps `SSL_CTX *`. Immutable once built; OpenSSL locks its shared parts (session cache,
/// ticket keys, reference counts) internally, so sessions on several threads may share one.
public final class TLSContext: @unchecked Sendable {
    package let pointer: OpaquePointer
    public let isServer: Bool
    /// SHA-256 fingerprint of the served leaf certificate ("AB:CD:…"), or nil for a client context.
    public let fingerprint: String?
    /// State the C callbacks reach through the context's ex_data; lives as long as the context.
    private let callbacks: TLSCallbacks?
    /// Contexts for the other certificates, chosen by SNI (kept alive here).
    private let alternates: [TLSContext]
    private let router: SNIRouter?

    deinit { SSL_CTX_free(pointer) }

    private init(pointer: OpaquePointer, isServer: Bool, fingerprint: String?, callbacks: TLSCallbacks?,
                 alternates: [TLSContext] = []) {
        self.pointer = pointer
        self.isServer = isServer
        self.fingerprint = fingerprint
        self.callbacks = callbacks
        self.alternates = alternates
        if alternates.isEmpty {
            router = nil
        } else {
            let router = SNIRouter(contexts: alternates.map(\.pointer))
            router.install(on: pointer)
            self.router = router
        }
    }

    // MARK: - Server

    /// `sibling`: an ephemeral certificate is taken from this context instead of made anew, so
    /// that two listeners of one server show the same certificate.
    public static func server(_ options: TLSServerOptions, sibling: TLSContext? = nil) throws(TLSContextError) -> TLSContext {
        guard let first = options.certificates.first else { return try server(options, certificate: .ephemeral, alternates: [], sibling: sibling) }
        var alternates: [TLSContext] = []
        for certificate in options.certificates.dropFirst() {
            alternates.append(try server(options, certificate: certificate, alternates: [], sibling: sibling))
        }
        return try server(options, certificate: first, alternates: alternates, sibling: sibling)
    }

    private static func server(_ options: TLSServerOptions, certificate: CertificateSource,
                               alternates: [TLSContext], sibling: TLSContext?) throws(TLSContextError) -> TLSContext {
        guard let ctx = SSL_CTX_new(TLS_server_method()) else {
            throw .library(.drain("SSL_CTX_new"))
        }
        let callbacks: TLSCallbacks
        do throws(TLSContextError) {
            try applyServerPolicy(ctx, minimumVersion: options.minimumVersion)
            if let maximum = options.maximumVersion, COpenSSL_SSL_CTX_set_max_proto_version(ctx, maximum.rawValue) != 1 {
                throw .library(.drain("SSL_CTX_set_max_proto_version"))
            }
            if options.refuseEveryHandshake { SSL_CTX_set_client_hello_cb(ctx, refusingClientHelloCallback, nil) }
            try useCertificate(certificate, in: ctx, sibling: sibling)
            if let clientCA = options.clientCA { try requireClientCertificates(clientCA, options.clientAuth, in: ctx) }
            configureResumption(options, in: ctx)
            try useGroups(options.groups, in: ctx)
            callbacks = try TLSCallbacks(keylogPath: options.keylogPath, alpn: options.alpn, alpnOptional: options.alpnOptional,
                                         ticketKeyFiles: options.ticketKeyFiles)
        } catch {
            SSL_CTX_free(ctx)
            throw error
        }
        callbacks.install(on: ctx)
        return TLSContext(pointer: ctx, isServer: true,
                          fingerprint: SelfSignedCertificate.fingerprint(of: SSL_CTX_get0_certificate(ctx)),
                          callbacks: callbacks, alternates: alternates)
    }

    private static func useCertificate(_ source: CertificateSource, in ctx: OpaquePointer,
                                       sibling: TLSContext? = nil) throws(TLSContextError) {
        switch source {
        case .ephemeral:
            if let sibling, let x509 = SSL_CTX_get0_certificate(sibling.pointer), let key = SSL_CTX_get0_privatekey(sibling.pointer) {
                guard SSL_CTX_use_certificate(ctx, x509) == 1, SSL_CTX_use_PrivateKey(ctx, key) == 1 else {
                    throw .library(.drain("SSL_CTX_use_certificate"))
                }
                return
            }
            let certificate = try SelfSignedCertificate.make()
            guard SSL_CTX_use_certificate(ctx, certificate.x509) == 1,
                  SSL_CTX_use_PrivateKey(ctx, certificate.key) == 1 else {
                throw .library(.drain("SSL_CTX_use_certificate"))
            }
        case .issued(let leaf, let chain):
            ERR_clear_error()
            guard SSL_CTX_use_certificate(ctx, leaf.x509) == 1, SSL_CTX_use_PrivateKey(ctx, leaf.key) == 1 else {
                throw .library(.drain("SSL_CTX_use_certificate"))
            }
            for certificate in chain where COpenSSL_SSL_CTX_add1_chain_cert(ctx, certificate.x509) != 1 {
                throw .library(.drain("SSL_CTX_add1_chain_cert"))
            }
            // The chain sent is exactly the one given: never completed from a store.
            _ = COpenSSL_SSL_CTX_set_mode(ctx, Int(SSL_MODE_NO_AUTO_CHAIN))
        case .files(let certificatePath, let keyPath):
            try checkReadable(certificatePath)
            try checkReadable(keyPath)
            ERR_clear_error()
            guard SSL_CTX_use_certificate_chain_file(ctx, certificatePath) == 1 else {
                throw .badCertificate(path: certificatePath, .drain("SSL_CTX_use_certificate_chain_file"))
            }
            guard SSL_CTX_use_PrivateKey_file(ctx, keyPath, SSL_FILETYPE_PEM) == 1 else {
                let error = OpenSSLError.drain("SSL_CTX_use_PrivateKey_file")
                if error.hasReason(X509_R_KEY_VALUES_MISMATCH) {
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
    /// non-blocking modes our write path relies on. AES-128-GCM is preferred (as in Mozilla's
    /// intermediate profile and BoringSSL): 10 AES rounds instead of 14, for a server that
    /// decrypts and encrypts every byte once (the measured gain is in the README).
    private static func applyServerPolicy(_ ctx: OpaquePointer, minimumVersion: TLSVersion) throws(TLSContextError) {
        guard COpenSSL_SSL_CTX_set_min_proto_version(ctx, minimumVersion.rawValue) == 1,
              SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM+AES128:ECDHE+AESGCM:ECDHE+CHACHA20") == 1,
              SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256") == 1 else {
            throw .library(.drain("SSL_CTX_set_min_proto_version / cipher lists"))
        }
        // Echo has no framing that could detect truncation, so a peer that just closes TCP
        // (nc-style TLS clients) ends the stream like close_notify would, instead of being
        // reported by OpenSSL 3 as "unexpected eof while reading".
        SSL_CTX_set_options(ctx,
            COpenSSL_SSL_OP_IGNORE_UNEXPECTED_EOF() | COpenSSL_SSL_OP_NO_RENEGOTIATION()
            | COpenSSL_SSL_OP_CIPHER_SERVER_PREFERENCE() | COpenSSL_SSL_OP_NO_COMPRESSION())
        applyNonBlockingModes(ctx)
    }

    /// The key-exchange groups offered, in preference order (TLS 1.3 key shares and TLS 1.2 ECDHE).
    private static func useGroups(_ list: String, in ctx: OpaquePointer) throws(TLSContextError) {
        ERR_clear_error()
        guard COpenSSL_SSL_CTX_set1_groups_list(ctx, list) == 1 else { throw .badGroups(list, .drain("SSL_CTX_set1_groups_list")) }
    }

    /// Checks a --groups list before anything starts, so a typo is a usage error.
    public static func validateGroups(_ list: String) throws(TLSContextError) {
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw .library(.drain("SSL_CTX_new")) }
        defer { SSL_CTX_free(ctx) }
        try useGroups(list, in: ctx)
    }

    /// "OpenSSL 3.0.19 27 Jan 2026 (built with OpenSSL 3.0.19 27 Jan 2026)".
    public static var libraryVersion: String {
        let running = OpenSSL_version(OPENSSL_VERSION).map { String(cString: $0) } ?? "OpenSSL ?"
        let built = COpenSSL_compiled_version().map { String(cString: $0) } ?? "?"
        return "\(running) (built with \(built))"
    }

    /// Asks for client certificates chaining to `caPath`; `required` refuses clients without one.
    private static func requireClientCertificates(_ caPath: String, _ mode: ClientAuth, in ctx: OpaquePointer) throws(TLSContextError) {
        try checkReadable(caPath)
        ERR_clear_error()
        guard SSL_CTX_load_verify_locations(ctx, caPath, nil) == 1,
              let names = SSL_load_client_CA_file(caPath) else {
            throw .badCertificate(path: caPath, .drain("SSL_CTX_load_verify_locations"))
        }
        SSL_CTX_set_client_CA_list(ctx, names)  // takes ownership of the name list
        let flags = mode == .required ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER
        SSL_CTX_set_verify(ctx, flags, nil)
    }

    /// Tickets (TLS 1.3, and 1.2) and a bounded server-side cache for 1.2 session IDs. The
    /// session ID context must be set whenever client certificates may be verified.
    private static func configureResumption(_ options: TLSServerOptions, in ctx: OpaquePointer) {
        let context = Array("secure-echo".utf8)
        _ = SSL_CTX_set_session_id_context(ctx, context, UInt32(context.count))
        if options.resumption {
            _ = COpenSSL_SSL_CTX_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_SERVER))
            _ = COpenSSL_SSL_CTX_sess_set_cache_size(ctx, options.sessionCacheSize)
            // No ticket from OpenSSL at the handshake's end: each session asks for one (not
            // OpenSSL's default two: a client resumes one session at a time) at its first read
            // or write, and not at all when that read finds the client's close_notify. A
            // client that closes with its Finished could never use a ticket, and one costs
            // 5-6 % of a full handshake's instructions (callgrind).
            _ = SSL_CTX_set_num_tickets(ctx, 0)
        } else {
            _ = COpenSSL_SSL_CTX_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_OFF))
            SSL_CTX_set_options(ctx, COpenSSL_SSL_OP_NO_TICKET())
            _ = SSL_CTX_set_num_tickets(ctx, 0)
        }
    }

    /// Partial writes let one SSL_write finish after a single record; moving buffers let a retry
    /// come from a buffer that was reallocated; released buffers keep idle sessions small.
    /// Read-ahead lets one read(2) bring a record's header and body, or up to four whole
    /// records, instead of a 5-byte header read and a body read per record; the buffer
    /// exists only while it holds input (released buffers), so idle connections do not pay.
    private static func applyNonBlockingModes(_ ctx: OpaquePointer) {
        _ = COpenSSL_SSL_CTX_set_mode(ctx,
            Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS))
        _ = COpenSSL_SSL_CTX_set_read_ahead(ctx, 1)
        SSL_CTX_set_default_read_buffer_len(ctx, 4 * 16_709)
    }

    package static func checkReadable(_ path: String) throws(TLSContextError) {
        if let reason = FileAccess.unreadableReason(path) { throw .unreadable(path: path, reason: reason) }
    }

    /// Takes over `other`'s session-ticket keys, so that tickets issued before a reload still
    /// resume afterwards. Corresponds to `SSL_CTX_get/set_tlsext_ticket_keys(3)`.
    package func adoptTicketKeys(from other: TLSContext) throws(OpenSSLError) {
        var keys = [UInt8](repeating: 0, count: 80)
        defer { OPENSSL_cleanse(&keys, keys.count) }  // secrets do not linger in freed memory
        ERR_clear_error()
        guard SSL_CTX_ctrl(other.pointer, SSL_CTRL_GET_TLSEXT_TICKET_KEYS, keys.count, &keys) == 1,
              SSL_CTX_ctrl(pointer, SSL_CTRL_SET_TLSEXT_TICKET_KEYS, keys.count, &keys) == 1 else {
            throw .drain("SSL_CTX_set_tlsext_ticket_keys", fallback: "ticket keys not copied")
        }
    }

    // MARK: - Client (tests and tools)

    /// A client context. Without `caFile` the server is not verified (test servers are self-signed).
    /// `certificate` and `key` present a client certificate.
    public static func client(caFile: String? = nil, minVersion: TLSVersion? = nil, maxVersion: TLSVersion? = nil,
                              certificate: String? = nil, key: String? = nil,
                              alpn: [String] = []) throws(TLSContextError) -> TLSContext {
        guard let ctx = SSL_CTX_new(TLS_client_method()) else {
            throw .library(.drain("SSL_CTX_new"))
        }
        let context = TLSContext(pointer: ctx, isServer: false, fingerprint: nil, callbacks: nil)  // frees ctx on any throw below
        if let caFile {
            try checkReadable(caFile)
            guard SSL_CTX_load_verify_locations(ctx, caFile, nil) == 1 else {
                throw .badCertificate(path: caFile, .drain("SSL_CTX_load_verify_locations"))
            }
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        }
        if let certificate, let key {
            try useCertificate(.files(certificate: certificate, key: key), in: ctx)
        }
        if !alpn.isEmpty {
            let wire = TLSCallbacks.wireFormat(alpn)
            // Unlike most of OpenSSL, 0 is success here.
            guard SSL_CTX_set_alpn_protos(ctx, wire, UInt32(wire.count)) == 0 else {
                throw .library(.drain("SSL_CTX_set_alpn_protos", fallback: "invalid ALPN list"))
            }
        }
        if let minVersion, COpenSSL_SSL_CTX_set_min_proto_version(ctx, minVersion.rawValue) != 1 {
            throw .library(.drain("SSL_CTX_set_min_proto_version"))
        }
        if let maxVersion, COpenSSL_SSL_CTX_set_max_proto_version(ctx, maxVersion.rawValue) != 1 {
            throw .library(.drain("SSL_CTX_set_max_proto_version"))
        }
        applyNonBlockingModes(ctx)
        return context
    }
}

public enum TLSVersion: Int32, Sendable, CaseIterable {
    case tls12 = 0x0303
    case tls13 = 0x0304
}

/// Fails every handshake at the ClientHello with the alert OpenSSL is given (handshake_failure).
private let refusingClientHelloCallback: @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int32>?, UnsafeMutableRawPointer?) -> Int32 = { _, alert, _ in
    alert?.pointee = SSL_AD_HANDSHAKE_FAILURE
    return SSL_CLIENT_HELLO_ERROR
}
