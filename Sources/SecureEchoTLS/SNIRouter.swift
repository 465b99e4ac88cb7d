// Chooses the certificate for a client's SNI server name: the first alternate context whose
// leaf certificate matches the name (SAN, wildcards, IP addresses), else the default.
import SecureEchoSystem
import COpenSSL

package final class SNIRouter: @unchecked Sendable {
    /// Alternate SSL_CTXs, owned by their TLSContexts, which outlive this router.
    private let contexts: [OpaquePointer]

    package init(contexts: [OpaquePointer]) {
        self.contexts = contexts
    }

    package func install(on ctx: OpaquePointer) {
        _ = COpenSSL_SSL_CTX_set_tlsext_servername_arg(ctx, Unmanaged.passUnretained(self).toOpaque())
        _ = COpenSSL_SSL_CTX_set_tlsext_servername_callback(ctx, serverNameCallback)
    }

    func context(for name: String) -> OpaquePointer? {
        contexts.first { ctx in
            guard let leaf = SSL_CTX_get0_certificate(ctx) else { return false }
            return X509_check_host(leaf, name, name.utf8.count, 0, nil) == 1 || X509_check_ip_asc(leaf, name, 0) == 1
        }
    }
}

private let serverNameCallback: @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int32>?, UnsafeMutableRawPointer?) -> Int32 = { ssl, alert, arg in
    guard let ssl, let arg, let raw = SSL_get_servername(ssl, Int32(TLSEXT_NAMETYPE_host_name)) else {
        return SSL_TLSEXT_ERR_OK  // no name: the default certificate
    }
    let router = Unmanaged<SNIRouter>.fromOpaque(arg).takeUnretainedValue()
    // A switch that fails would serve the default certificate to a name it does not match:
    // refuse the handshake instead.
    if let chosen = router.context(for: String(cString: raw)), SSL_set_SSL_CTX(ssl, chosen) == nil {
        alert?.pointee = SSL_AD_INTERNAL_ERROR
        return SSL_TLSEXT_ERR_ALERT_FATAL
    }
    return SSL_TLSEXT_ERR_OK
}
