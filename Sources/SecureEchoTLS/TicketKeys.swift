// Session-ticket keys shared across a fleet (--ticket-key-file), in nginx's
// ssl_session_ticket_key format, so a client resumes on whichever instance a balancer picks.
import SecureEchoSystem
import COpenSSL

/// The keys, first one first: it encrypts new tickets; every one decrypts. A ticket decrypted
/// with another key is renewed, so an operator rotates by putting a new key first (then
/// dropping the oldest) and reloading with SIGHUP.
package final class TicketKeys: @unchecked Sendable {
    struct Key {
        var name: [UInt8]     // 16 bytes, sent in the ticket to find the key again
        var aes: [UInt8]      // 16 (AES-128-CBC) or 32 (AES-256-CBC)
        var hmac: [UInt8]     // 16 or 32, HMAC-SHA256
    }

    private(set) var keys: [Key]

    /// Reads each file: 48 bytes (name 16, AES-128 key 16, HMAC key 16) or 80 bytes (name 16,
    /// HMAC key 32, AES-256 key 32), the two sizes nginx accepts.
    package init(files: [String]) throws(TLSContextError) {
        keys = []
        for path in files {
            var bytes: [UInt8]
            switch FileAccess.readSmall(path, limit: 80) {
            case .success(let read): bytes = read
            case .failure(.unreadable(let reason)): throw .unreadable(path: path, reason: reason)
            case .failure(.tooLarge): throw .badTicketKey(path: path, reason: "larger than 80 bytes")
            }
            defer { OPENSSL_cleanse(&bytes, bytes.count) }
            switch bytes.count {
            case 48: keys.append(Key(name: Array(bytes[0..<16]), aes: Array(bytes[16..<32]), hmac: Array(bytes[32..<48])))
            case 80: keys.append(Key(name: Array(bytes[0..<16]), aes: Array(bytes[48..<80]), hmac: Array(bytes[16..<48])))
            default: throw .badTicketKey(path: path, reason: "\(bytes.count) bytes (48 or 80, as for nginx's ssl_session_ticket_key)")
            }
        }
    }

    deinit {
        for index in keys.indices {
            OPENSSL_cleanse(&keys[index].aes, keys[index].aes.count)
            OPENSSL_cleanse(&keys[index].hmac, keys[index].hmac.count)
        }
    }

    /// OpenSSL's ticket callback, for one ticket: 1 = done, 2 = decrypted, renew the ticket,
    /// 0 = unknown key (a full handshake, then a new ticket), -1 = failure.
    func handle(name: UnsafeMutablePointer<UInt8>, iv: UnsafeMutablePointer<UInt8>,
                cipher: OpaquePointer, mac: OpaquePointer, encrypting: Bool) -> Int32 {
        let index: Int
        if encrypting {
            guard let first = keys.first else { return -1 }
            for offset in 0..<16 { name[offset] = first.name[offset] }
            guard RAND_bytes(iv, 16) == 1 else { return -1 }
            index = 0
        } else {
            guard let found = keys.firstIndex(where: { key in (0..<16).allSatisfy { key.name[$0] == name[$0] } }) else {
                return 0
            }
            index = found
        }
        let key = keys[index]
        let evpCipher = key.aes.count == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc()
        let cipherReady = key.aes.withUnsafeBufferPointer { aes in
            encrypting ? EVP_EncryptInit_ex(cipher, evpCipher, nil, aes.baseAddress, iv)
                       : EVP_DecryptInit_ex(cipher, evpCipher, nil, aes.baseAddress, iv)
        }
        guard cipherReady == 1, setHMAC(key.hmac, on: mac) else { return -1 }
        return !encrypting && index > 0 ? 2 : 1
    }

    private func setHMAC(_ hmacKey: [UInt8], on mac: OpaquePointer) -> Bool {
        var keyBytes = hmacKey
        defer { OPENSSL_cleanse(&keyBytes, keyBytes.count) }
        // OSSL_PARAM keeps pointers to the names and values: all must live until set_params.
        return Self.digestParameter.withCString { digestKey in
            Self.digestName.withCString { digest in
                Self.keyParameter.withCString { keyKey in
                    keyBytes.withUnsafeMutableBytes { raw in
                        let params = [
                            OSSL_PARAM_construct_utf8_string(digestKey, UnsafeMutablePointer(mutating: digest), 0),
                            OSSL_PARAM_construct_octet_string(keyKey, raw.baseAddress, raw.count),
                            OSSL_PARAM_construct_end(),
                        ]
                        return EVP_MAC_CTX_set_params(mac, params) == 1
                    }
                }
            }
        }
    }

    private static let digestParameter = "digest"  // OSSL_MAC_PARAM_DIGEST
    private static let keyParameter = "key"        // OSSL_MAC_PARAM_KEY
    private static let digestName = "SHA256"
}
