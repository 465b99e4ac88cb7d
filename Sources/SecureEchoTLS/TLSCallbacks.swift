// The server context's C callbacks (key log, ALPN selection) and the state they need.
// OpenSSL calls them with an SSL* only; they find this object through the SSL_CTX's ex_data
// and the session through the SSL's ex_data, both set by their owners.
import SecureEchoSystem
import COpenSSL
#if canImport(Glibc)
import Glibc
#endif

package final class TLSCallbacks: @unchecked Sendable {
    /// NSS key-log file (append-only, mode 600).
    private let keylog: SecretFile?
    /// The server's ALPN protocols in wire format (length-prefixed), preference order.
    private let alpnWire: [UInt8]
    /// No overlap: go on without ALPN rather than refuse the client.
    fileprivate let alpnOptional: Bool

    /// Keys from --ticket-key-file; nil leaves tickets to OpenSSL's own keys.
    fileprivate let ticketKeys: TicketKeys?

    package init(keylogPath: String?, alpn: [String], alpnOptional: Bool = false, ticketKeyFiles: [String] = []) throws(TLSContextError) {
        alpnWire = Self.wireFormat(alpn)
        self.alpnOptional = alpnOptional
        ticketKeys = ticketKeyFiles.isEmpty ? nil : try TicketKeys(files: ticketKeyFiles)
        guard let keylogPath else {
            keylog = nil
            return
        }
        do {
            keylog = try SecretFile(path: keylogPath)
        } catch {
            throw .unreadable(path: keylogPath, reason: error.call.hasPrefix("open") ? error.reason : error.description)
        }
    }

    package static func wireFormat(_ protocols: [String]) -> [UInt8] {
        protocols.flatMap { [UInt8(truncatingIfNeeded: $0.utf8.count)] + Array($0.utf8) }
    }

    /// Decodes a wire-format protocol list ("h2,http/1.1").
    package static func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> [String] {
        var names: [String] = []
        var i = 0
        while i < bytes.count {
            let length = Int(bytes[i])
            guard i + 1 + length <= bytes.count else { break }
            names.append(ClientText.decode(bytes[(i + 1)..<(i + 1 + length)]))
            i += 1 + length
        }
        return names
    }

    package func install(on ctx: OpaquePointer) {
        SSL_CTX_set_ex_data(ctx, 0, Unmanaged.passUnretained(self).toOpaque())
        if keylog != nil {
            SSL_CTX_set_keylog_callback(ctx, keylogCallback)
        }
        if !alpnWire.isEmpty {
            SSL_CTX_set_alpn_select_cb(ctx, alpnSelectCallback, Unmanaged.passUnretained(self).toOpaque())
        }
        if ticketKeys != nil {
            _ = SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticketKeyCallback)
        }
    }

    fileprivate func appendKeyLogLine(_ line: UnsafePointer<CChar>) {
        keylog?.appendLine(line, count: strlen(line))
    }

    /// The first of the server's protocols that the client offered, pointing into `offered`.
    func select(from offered: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8>? {
        var s = 0
        while s < alpnWire.count {
            let serverLength = Int(alpnWire[s])
            let serverName = alpnWire[(s + 1)..<(s + 1 + serverLength)]
            var c = 0
            while c < offered.count {
                let clientLength = Int(offered[c])
                guard c + 1 + clientLength <= offered.count else { break }
                if clientLength == serverLength && offered[(c + 1)..<(c + 1 + clientLength)].elementsEqual(serverName) {
                    return UnsafeBufferPointer(rebasing: offered[(c + 1)..<(c + 1 + clientLength)])
                }
                c += 1 + clientLength
            }
            s += 1 + serverLength
        }
        return nil
    }
}

private func callbacks(of ssl: OpaquePointer?) -> TLSCallbacks? {
    guard let ssl, let ctx = SSL_get_SSL_CTX(ssl), let raw = SSL_CTX_get_ex_data(ctx, 0) else { return nil }
    return Unmanaged<TLSCallbacks>.fromOpaque(raw).takeUnretainedValue()
}

/// Encrypts and decrypts session tickets with the --ticket-key-file keys (OpenSSL 3's EVP_MAC
/// form of the callback, not the deprecated HMAC_CTX one).
private let ticketKeyCallback: @convention(c) (
    OpaquePointer?, UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<UInt8>?, OpaquePointer?, OpaquePointer?, Int32
) -> Int32 = { ssl, name, iv, cipher, mac, encrypting in
    guard let name, let iv, let cipher, let mac, let keys = callbacks(of: ssl)?.ticketKeys else { return -1 }
    return keys.handle(name: name, iv: iv, cipher: cipher, mac: mac, encrypting: encrypting == 1)
}

private let keylogCallback: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> Void = { ssl, line in
    guard let line else { return }
    callbacks(of: ssl)?.appendKeyLogLine(line)
}

/// Picks the server's most preferred protocol that the client offered; with no overlap the
/// handshake fails with no_application_protocol, as RFC 7301 asks.
private let alpnSelectCallback: @convention(c) (
    OpaquePointer?, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, UnsafeMutablePointer<UInt8>?,
    UnsafePointer<UInt8>?, UInt32, UnsafeMutableRawPointer?
) -> Int32 = { ssl, out, outLength, offeredBytes, offeredLength, arg in
    guard let arg, let offeredBytes else { return SSL_TLSEXT_ERR_NOACK }
    let offered = UnsafeBufferPointer(start: offeredBytes, count: Int(offeredLength))
    TLSSession.owning(ssl)?.offeredALPN = TLSCallbacks.decode(offered)
    let server = Unmanaged<TLSCallbacks>.fromOpaque(arg).takeUnretainedValue()
    guard let chosen = server.select(from: offered), let out, let outLength else {
        return server.alpnOptional ? SSL_TLSEXT_ERR_NOACK : SSL_TLSEXT_ERR_ALERT_FATAL
    }
    out.pointee = chosen.baseAddress
    outLength.pointee = UInt8(chosen.count)
    return SSL_TLSEXT_ERR_OK
}
