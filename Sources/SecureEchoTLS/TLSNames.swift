// IANA names for the code points a ClientHello carries, for reports a person reads.
// Cipher suites come from OpenSSL's own table (every suite it knows, RFC names); the other
// registries are short enough to list. A value nobody named is shown in hex.
import COpenSSL

package enum TLSNames {
    /// RFC 8701 GREASE: 0x0a0a, 0x1a1a, … 0xfafa (both bytes equal, low nibble 0xa).
    package static func isGREASE(_ value: UInt16) -> Bool {
        value & 0x0f0f == 0x0a0a && value >> 8 == value & 0xff
    }

    package static func hex(_ value: UInt16) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 4 - digits.count) + digits
    }

    /// "TLSv1.3"; GREASE as "GREASE(0x7a7a)".
    package static func version(_ value: UInt16) -> String {
        name(value, in: versions)
    }

    package static func cipher(_ value: UInt16) -> String { name(value, in: ciphers) }
    package static func group(_ value: UInt16) -> String { name(value, in: groups) }
    package static func signatureAlgorithm(_ value: UInt16) -> String { name(value, in: signatureAlgorithms) }
    package static func extensionType(_ value: UInt16) -> String { name(value, in: extensionTypes) }

    private static func name(_ value: UInt16, in table: [UInt16: String]) -> String {
        if isGREASE(value) { return "GREASE(\(hex(value)))" }
        return table[value] ?? hex(value)
    }

    private static let versions: [UInt16: String] = [
        0x0002: "SSLv2", 0x0300: "SSLv3", 0x0301: "TLSv1.0", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2", 0x0304: "TLSv1.3",
        0xfeff: "DTLSv1.0", 0xfefd: "DTLSv1.2", 0xfefc: "DTLSv1.3",
    ]

    /// Every suite this OpenSSL knows (security level 0, so the weak ones too), plus the
    /// signalling values that are not suites.
    private static let ciphers: [UInt16: String] = {
        var table: [UInt16: String] = [0x00ff: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", 0x5600: "TLS_FALLBACK_SCSV"]
        guard let ctx = SSL_CTX_new(TLS_method()) else { return table }
        defer { SSL_CTX_free(ctx) }
        _ = SSL_CTX_set_cipher_list(ctx, "ALL:COMPLEMENTOFALL:@SECLEVEL=0")
        _ = SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256")
        ERR_clear_error()
        guard let list = SSL_CTX_get_ciphers(ctx) else { return table }
        for index in 0..<OPENSSL_sk_num(list) {
            guard let cipher = OPENSSL_sk_value(list, index).map({ OpaquePointer($0) }),
                  let name = SSL_CIPHER_standard_name(cipher) else { continue }
            table[SSL_CIPHER_get_protocol_id(cipher)] = String(cString: name)
        }
        return table
    }()

    /// The TLS Supported Groups registry (the ones clients send today, and the legacy curves).
    private static let groups: [UInt16: String] = {
        var table: [UInt16: String] = [
            23: "secp256r1", 24: "secp384r1", 25: "secp521r1", 26: "brainpoolP256r1", 27: "brainpoolP384r1",
            28: "brainpoolP512r1", 29: "x25519", 30: "x448", 31: "brainpoolP256r1tls13", 32: "brainpoolP384r1tls13",
            33: "brainpoolP512r1tls13", 34: "GC256A", 35: "GC256B", 36: "GC256C", 37: "GC256D", 38: "GC512A",
            39: "GC512B", 40: "GC512C", 41: "curveSM2",
            256: "ffdhe2048", 257: "ffdhe3072", 258: "ffdhe4096", 259: "ffdhe6144", 260: "ffdhe8192",
            512: "MLKEM512", 513: "MLKEM768", 514: "MLKEM1024",
            4587: "SecP256r1MLKEM768", 4588: "X25519MLKEM768", 4589: "SecP384r1MLKEM1024",
            25497: "X25519Kyber768Draft00", 25498: "SecP256r1Kyber768Draft00",
            0xff01: "arbitrary_explicit_prime_curves", 0xff02: "arbitrary_explicit_char2_curves",
        ]
        let legacy = ["sect163k1", "sect163r1", "sect163r2", "sect193r1", "sect193r2", "sect233k1", "sect233r1",
                      "sect239k1", "sect283k1", "sect283r1", "sect409k1", "sect409r1", "sect571k1", "sect571r1",
                      "secp160k1", "secp160r1", "secp160r2", "secp192k1", "secp192r1", "secp224k1", "secp224r1",
                      "secp256k1"]
        for (index, name) in legacy.enumerated() { table[UInt16(index + 1)] = name }
        return table
    }()

    /// The TLS SignatureScheme registry, and the TLS 1.2 hash/signature pairs still sent.
    private static let signatureAlgorithms: [UInt16: String] = [
        0x0201: "rsa_pkcs1_sha1", 0x0203: "ecdsa_sha1", 0x0202: "dsa_sha1",
        0x0301: "rsa_pkcs1_sha224", 0x0302: "dsa_sha224", 0x0303: "ecdsa_sha224",
        0x0401: "rsa_pkcs1_sha256", 0x0402: "dsa_sha256", 0x0403: "ecdsa_secp256r1_sha256",
        0x0501: "rsa_pkcs1_sha384", 0x0502: "dsa_sha384", 0x0503: "ecdsa_secp384r1_sha384",
        0x0601: "rsa_pkcs1_sha512", 0x0602: "dsa_sha512", 0x0603: "ecdsa_secp521r1_sha512",
        0x0420: "rsa_pkcs1_sha256_legacy", 0x0520: "rsa_pkcs1_sha384_legacy", 0x0620: "rsa_pkcs1_sha512_legacy",
        0x0704: "eccsi_sha256", 0x0705: "iso_ibs1", 0x0706: "iso_ibs2", 0x0707: "iso_chinese_ibs",
        0x0708: "sm2sig_sm3", 0x0709: "gostr34102012_256a", 0x070a: "gostr34102012_256b",
        0x070b: "gostr34102012_256c", 0x070c: "gostr34102012_256d", 0x070d: "gostr34102012_512a",
        0x070e: "gostr34102012_512b", 0x070f: "gostr34102012_512c",
        0x0804: "rsa_pss_rsae_sha256", 0x0805: "rsa_pss_rsae_sha384", 0x0806: "rsa_pss_rsae_sha512",
        0x0807: "ed25519", 0x0808: "ed448",
        0x0809: "rsa_pss_pss_sha256", 0x080a: "rsa_pss_pss_sha384", 0x080b: "rsa_pss_pss_sha512",
        0x081a: "ecdsa_brainpoolP256r1tls13_sha256", 0x081b: "ecdsa_brainpoolP384r1tls13_sha384",
        0x081c: "ecdsa_brainpoolP512r1tls13_sha512",
        0x0904: "mldsa44", 0x0905: "mldsa65", 0x0906: "mldsa87",
    ]

    /// The TLS ExtensionType registry.
    private static let extensionTypes: [UInt16: String] = [
        0: "server_name", 1: "max_fragment_length", 2: "client_certificate_url", 3: "trusted_ca_keys",
        4: "truncated_hmac", 5: "status_request", 6: "user_mapping", 7: "client_authz", 8: "server_authz",
        9: "cert_type", 10: "supported_groups", 11: "ec_point_formats", 12: "srp", 13: "signature_algorithms",
        14: "use_srtp", 15: "heartbeat", 16: "application_layer_protocol_negotiation",
        17: "status_request_v2", 18: "signed_certificate_timestamp", 19: "client_certificate_type",
        20: "server_certificate_type", 21: "padding", 22: "encrypt_then_mac", 23: "extended_master_secret",
        24: "token_binding", 25: "cached_info", 26: "tls_lts", 27: "compress_certificate", 28: "record_size_limit",
        29: "pwd_protect", 30: "pwd_clear", 31: "password_salt", 32: "ticket_pinning", 33: "tls_cert_with_extern_psk",
        34: "delegated_credential", 35: "session_ticket", 36: "TLMSP", 37: "TLMSP_proxying", 38: "TLMSP_delegate",
        39: "supported_ekt_ciphers", 41: "pre_shared_key", 42: "early_data", 43: "supported_versions",
        44: "cookie", 45: "psk_key_exchange_modes", 47: "certificate_authorities", 48: "oid_filters",
        49: "post_handshake_auth", 50: "signature_algorithms_cert", 51: "key_share", 52: "transparency_info",
        53: "connection_id_deprecated", 54: "connection_id", 55: "external_id_hash", 56: "external_session_id",
        57: "quic_transport_parameters", 58: "ticket_request", 59: "dnssec_chain", 60: "sequence_number_encryption_algorithms",
        61: "rrc", 62: "tls_flags",
        0x3374: "next_protocol_negotiation", 0x4469: "application_settings_old", 0x44cd: "application_settings",
        0xfe0d: "encrypted_client_hello", 0xff01: "renegotiation_info",
    ]
}
