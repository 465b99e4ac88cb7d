// Owns one SSL object and states OpenSSL's non-blocking rules in one place.
import SecureEchoSystem
import COpenSSL
#if canImport(Glibc)
import Glibc
#endif

/// Wraps `SSL *` over a non-blocking socket (or, in tests, a BIO pair).
///
/// Rules kept here so no caller has to know them:
/// - the error queue is cleared before every call and drained into `OpenSSLError` after a failure;
/// - WANT_READ / WANT_WRITE become `.wouldBlock(.readable / .writable)`, whichever call produced them;
/// - a write that would block is retried with the same bytes and length (OpenSSL may have
///   encrypted part of them already);
/// - after a fatal error, `shutdown()` does nothing, because SSL_shutdown is then forbidden;
/// - a TLS 1.3 server session issues its one ticket at its first read or write after the
///   handshake, unless that read finds the client's close_notify (see `askForTicket`).
package final class TLSSession {
    private let ssl: OpaquePointer
    /// Keeps the SSL_CTX alive for as long as the SSL that points into it.
    private let context: TLSContext
    private(set) var isFatal = false
    private var retryWriteLength: Int?
    /// What the client offered through ALPN (set by the selection callback).
    var offeredALPN: [String]?
    /// The client's first ClientHello as parsed from its bytes (server sessions), or why it
    /// could not be; nil before it arrives and after `releaseClientHello()`.
    package var clientHello: Result<ClientHello, ClientHelloError>? { captured?.hello }
    /// Boxed, so that a session keeps one pointer for it rather than the value's hundred bytes.
    private var captured: CapturedHello?
    /// Handshake records received before the ClientHello was whole.
    private var helloRecords = 0
    /// The server answered with a HelloRetryRequest, so a second ClientHello came.
    private var helloRetried = false
    /// A completed TLS 1.3 server handshake whose session ticket has not been asked for yet.
    private var ticketOwed = false

    deinit { SSL_free(ssl) }

    private init(context: TLSContext) throws(OpenSSLError) {
        ERR_clear_error()
        guard let ssl = SSL_new(context.pointer) else { throw .drain("SSL_new") }
        self.ssl = ssl
        self.context = context
        if context.isServer { SSL_set_accept_state(ssl) } else { SSL_set_connect_state(ssl) }
        // Unretained: callbacks run only inside calls this session makes, while it is alive.
        SSL_set_ex_data(ssl, 0, Unmanaged.passUnretained(self).toOpaque())
        // Only during the handshake: cleared once it completes, so echo never pays for it.
        if context.isServer { SSL_set_msg_callback(ssl, clientHelloObserver) }
    }

    /// Sees every record header and handshake message OpenSSL reads, until the handshake ends.
    fileprivate func observe(contentType: Int32, _ bytes: UnsafeRawBufferPointer) {
        guard let first = bytes.first else { return }
        switch contentType {
        case Int32(SSL3_RT_HEADER) where first == UInt8(SSL3_RT_HANDSHAKE) && captured == nil:
            helloRecords += 1
        case Int32(SSL3_RT_HANDSHAKE) where first == UInt8(SSL3_MT_CLIENT_HELLO):
            guard captured == nil else {
                helloRetried = true
                return
            }
            captured = CapturedHello(Result { () throws(ClientHelloError) in
                var hello = try ClientHello(message: bytes)
                hello.records = max(helloRecords, 1)
                return hello
            })
        default:
            break
        }
    }

    /// Lets go of the parsed ClientHello once nothing will read it (an idle connection keeps none).
    /// Only once the handshake is done (no second hello can come then).
    package func releaseClientHello() { captured = nil }

    /// The session that owns `ssl`, for OpenSSL's callbacks.
    package static func owning(_ ssl: OpaquePointer?) -> TLSSession? {
        guard let ssl, let raw = SSL_get_ex_data(ssl, 0) else { return nil }
        return Unmanaged<TLSSession>.fromOpaque(raw).takeUnretainedValue()
    }

    /// A session on a socket that is already non-blocking.
    /// `completedReceive`, `queuedSend`: where the loop's poller receives and sends for the
    /// socket (io_uring), if it does.
    package convenience init(context: TLSContext, fd: CInt, completedReceive: CompletedReceive? = nil,
                             queuedSend: QueuedSend? = nil, serverName: String? = nil) throws(OpenSSLError) {
        try self.init(context: context)
        let bio = try SocketBIO.make(fd: fd, completedReceive: completedReceive, queuedSend: queuedSend)
        SSL_set_bio(ssl, bio, bio)  // one reference, taken by the SSL for both directions
        if let serverName, !context.isServer { _ = COpenSSL_SSL_set_tlsext_host_name(ssl, serverName) }
    }

    /// A session over a BIO (one end of a BIO pair in tests); the session takes the BIO's reference.
    package convenience init(context: TLSContext, bio: OpaquePointer) throws(OpenSSLError) {
        try self.init(context: context)
        SSL_set_bio(ssl, bio, bio)
    }

    /// A server and a client session joined by an in-memory BIO pair: a handshake without sockets.
    package static func makePair(server serverContext: TLSContext, client clientContext: TLSContext)
        throws(OpenSSLError) -> (server: TLSSession, client: TLSSession) {
        var serverBIO: OpaquePointer?
        var clientBIO: OpaquePointer?
        ERR_clear_error()
        guard BIO_new_bio_pair(&serverBIO, 0, &clientBIO, 0) == 1, let serverBIO, let clientBIO else {
            throw .drain("BIO_new_bio_pair")
        }
        // A session owns its BIO only once it exists: free the ones no session took.
        let server: TLSSession
        do {
            server = try TLSSession(context: serverContext, bio: serverBIO)
        } catch {
            BIO_free(serverBIO)
            BIO_free(clientBIO)
            throw error
        }
        do {
            return (server, try TLSSession(context: clientContext, bio: clientBIO))
        } catch {
            BIO_free(clientBIO)
            throw error
        }
    }

    // MARK: - Operations

    /// Drives the handshake one step. Corresponds to `SSL_do_handshake(3)`.
    package func handshake() throws(TLSSessionError) -> Step {
        clearErrorQueue()
        errno = 0
        let rc = SSL_do_handshake(ssl)
        if rc == 1 {
            SSL_set_msg_callback(ssl, nil)
            // Resumption on means SSL_OP_NO_TICKET off and no ticket from OpenSSL itself
            // (TLSContext.configureResumption): this session asks for its own.
            ticketOwed = SSL_is_server(ssl) == 1 && SSL_version(ssl) == TLS1_3_VERSION
                && SSL_get_options(ssl) & COpenSSL_SSL_OP_NO_TICKET() == 0
            return .done
        }
        do throws(TLSSessionError) {
            switch try outcome(of: rc, "handshake") {
            case .wouldBlock(let interest): return .wouldBlock(interest)
            case .bytes, .endOfStream:
                isFatal = true
                throw .library(OpenSSLError.drain("handshake", fallback: "peer closed during handshake"))
            }
        } catch {
            // "certificate verify failed" alone does not say why; the verify result does.
            let verify = SSL_get_verify_result(ssl)
            guard case .library(let library) = error, verify != X509_V_OK,
                  let text = X509_verify_cert_error_string(verify) else { throw error }
            throw .library(OpenSSLError(operation: library.operation,
                                        reasons: library.reasons + ["peer certificate: \(String(cString: text))"],
                                        lastCode: library.lastCode))
        }
    }

    /// At most one record's plaintext. Corresponds to `SSL_read_ex(3)`.
    package func read(into buffer: UnsafeMutableRawBufferPointer) throws(TLSSessionError) -> IOResult {
        clearErrorQueue()
        errno = 0
        var count = 0
        let rc = SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &count)
        if rc == 1 {
            // The reply's SSL_write, or the next read, sends it ahead of anything else.
            if ticketOwed { askForTicket() }
            return .bytes(count)
        }
        let result = try outcome(of: rc, "SSL_read")
        switch result {
        case .wouldBlock(.readable) where ticketOwed:
            // Read again: SSL_read writes the ticket first, then finds nothing (or bytes that
            // came meanwhile) and, finding nothing, releases its read buffer. SSL_do_handshake
            // would write the ticket just as well but keep that buffer (64 KiB with read-ahead)
            // for as long as the connection stays idle.
            askForTicket()
            return try read(into: buffer)
        case .endOfStream:
            ticketOwed = false  // the client closed with (or right after) its Finished
            return result
        default:
            return result
        }
    }

    /// Asks OpenSSL for the session's one ticket, which the next SSL_read or SSL_write sends
    /// before its own work (after a blocked write's record, if there is one). Corresponds to
    /// `SSL_new_session_ticket(3)`; if none can be made, the session goes on without one.
    private func askForTicket() {
        ticketOwed = false
        _ = SSL_new_session_ticket(ssl)
    }

    /// Corresponds to `SSL_write_ex(3)` with partial writes enabled: success may cover one record only.
    package func write(_ bytes: UnsafeRawBufferPointer) throws(TLSSessionError) -> IOResult {
        guard !bytes.isEmpty else { return .bytes(0) }
        let length = retryWriteLength ?? bytes.count
        precondition(length <= bytes.count, "SSL_write retry with fewer bytes than the blocked write")
        // An application that speaks first (the report port) still gives its client a ticket.
        if ticketOwed { askForTicket() }
        clearErrorQueue()
        errno = 0
        var count = 0
        let rc = SSL_write_ex(ssl, bytes.baseAddress, length, &count)
        if rc == 1 {
            retryWriteLength = nil
            return .bytes(count)
        }
        let result = try outcome(of: rc, "SSL_write")
        if case .wouldBlock = result { retryWriteLength = length }
        return result
    }

    /// Sends close_notify (once the handshake is done). Corresponds to `SSL_shutdown(3)`;
    /// not waiting for the peer's close_notify is allowed when it has already ended its stream.
    package func shutdown() throws(TLSSessionError) -> Step {
        guard !isFatal, SSL_is_init_finished(ssl) == 1 else { return .done }
        clearErrorQueue()
        errno = 0
        let rc = SSL_shutdown(ssl)
        if rc >= 0 { return .done }
        switch try outcome(of: rc, "SSL_shutdown") {
        case .wouldBlock(let interest): return .wouldBlock(interest)
        case .bytes, .endOfStream: return .done
        }
    }

    /// Decrypted bytes already inside OpenSSL: they will never wake the poller.
    ///
    /// Not `SSL_has_pending`: with read-ahead it is also true for the first part of a record
    /// whose rest is still on its way, so a connection served again for it would spin until
    /// the rest arrives. A read that
    /// returned WANT_READ has already decrypted every complete record read ahead, so what is
    /// left is a partial record, and the socket reports its rest.
    package var hasBufferedInput: Bool { SSL_pending(ssl) > 0 }

    /// How far a handshake got, for the log line of one that failed or timed out:
    /// "SSLv3/TLS read client hello after 50 bytes".
    package var handshakeProgress: String {
        let state = SSL_state_string_long(ssl).map { String(cString: $0) } ?? "unknown state"
        let received = SSL_get_rbio(ssl).map { BIO_number_read($0) } ?? 0
        return "\(state) after \(received) bytes"
    }

    /// "TLSv1.3/TLS_AES_256_GCM_SHA384", for logs.
    package var negotiated: String {
        let version = SSL_get_version(ssl).map { String(cString: $0) } ?? "?"
        let cipher = SSL_get_current_cipher(ssl).flatMap { SSL_CIPHER_get_name($0) }.map { String(cString: $0) } ?? "?"
        return "\(version)/\(cipher)"
    }

    /// Everything a completed handshake settled.
    package var session: NegotiatedSession {
        var selected: UnsafePointer<UInt8>?
        var selectedLength: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &selected, &selectedLength)
        let alpn = selected.flatMap { selectedLength > 0 ? String(decoding: UnsafeBufferPointer(start: $0, count: Int(selectedLength)), as: UTF8.self) : nil }
        return NegotiatedSession(
            version: SSL_get_version(ssl).map { String(cString: $0) } ?? "?",
            cipher: SSL_get_current_cipher(ssl).flatMap { SSL_CIPHER_get_name($0) }.map { String(cString: $0) } ?? "?",
            serverName: SSL_get_servername(ssl, Int32(TLSEXT_NAMETYPE_host_name)).map { name in
                ClientText.decode(UnsafeRawBufferPointer(start: name, count: strlen(name)))
            },
            alpn: alpn,
            alpnOffered: offeredALPN,
            resumed: SSL_session_reused(ssl) == 1,
            clientSubject: peerCertificateSubject,
            group: negotiatedGroup,
            helloRetried: helloRetried,
            clientVerification: clientVerification)
    }

    /// The key-exchange group ("x25519"), nil when none was used (TLS 1.2 RSA, PSK-only).
    private var negotiatedGroup: String? {
        let id = COpenSSL_SSL_get_negotiated_group(ssl)
        guard id > 0 else { return nil }
        return SSL_group_to_name(ssl, id).map { String(cString: $0) } ?? "group \(id)"
    }

    /// "ok", or why the presented client certificate did not verify; nil when none was presented.
    private var clientVerification: String? {
        guard SSL_get0_peer_certificate(ssl) != nil else { return nil }
        let result = SSL_get_verify_result(ssl)
        if result == X509_V_OK { return "ok" }
        return X509_verify_cert_error_string(result).map { String(cString: $0) } ?? "error \(result)"
    }

    /// The verified peer certificate's subject ("/CN=secure-echo client"), if one was presented.
    package var peerCertificateSubject: String? {
        guard let certificate = SSL_get1_peer_certificate(ssl) else { return nil }
        defer { X509_free(certificate) }
        guard let name = X509_get_subject_name(certificate), let text = X509_NAME_oneline(name, nil, 0) else { return nil }
        defer { COpenSSL_OPENSSL_free(text) }
        return String(cString: text)
    }

    // MARK: - Error mapping

    /// SSL_get_error is only meaningful with an empty error queue. Every failure drains the
    /// queue, so it is nearly always empty already: peeking costs less than clearing all of
    /// its slots on every read and write.
    @inline(__always)
    private func clearErrorQueue() {
        if ERR_peek_error() != 0 { ERR_clear_error() }
    }

    /// Maps a failed call's `SSL_get_error` onto an I/O outcome, or throws for fatal errors.
    private func outcome(of rc: Int32, _ operation: String) throws(TLSSessionError) -> IOResult {
        let savedErrno = errno
        switch SSL_get_error(ssl, rc) {
        case SSL_ERROR_WANT_READ:
            return .wouldBlock(.readable)
        case SSL_ERROR_WANT_WRITE:
            return .wouldBlock(.writable)
        case SSL_ERROR_ZERO_RETURN:
            return .endOfStream
        case SSL_ERROR_SYSCALL:
            isFatal = true
            let queued = OpenSSLError.drain(operation, fallback: "connection closed")
            if savedErrno != 0 && queued.lastCode == 0 { throw .system(SystemCallError(call: operation, errno: savedErrno)) }
            throw .library(queued)
        default:
            isFatal = true
            throw .library(OpenSSLError.drain(operation))
        }
    }
}

/// OpenSSL's message callback, installed on server sessions for the handshake only.
private let clientHelloObserver: @convention(c) (
    Int32, Int32, Int32, UnsafeRawPointer?, Int, OpaquePointer?, UnsafeMutableRawPointer?
) -> Void = { written, _, contentType, buffer, length, ssl, _ in
    guard written == 0, let buffer, let session = TLSSession.owning(ssl) else { return }
    session.observe(contentType: contentType, UnsafeRawBufferPointer(start: buffer, count: length))
}

private final class CapturedHello {
    let hello: Result<ClientHello, ClientHelloError>
    init(_ hello: Result<ClientHello, ClientHelloError>) { self.hello = hello }
}
