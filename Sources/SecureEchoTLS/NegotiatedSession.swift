// What a completed TLS handshake settled, as plain values: for log fields, and for
// applications that answer with it.
package struct NegotiatedSession: Sendable, Equatable {
    /// "TLSv1.3"
    package var version: String
    /// "TLS_AES_256_GCM_SHA384"
    package var cipher: String
    /// The SNI host name the client sent.
    package var serverName: String?
    /// The ALPN protocol selected.
    package var alpn: String?
    /// The ALPN protocols the client offered, in its order.
    package var alpnOffered: [String]?
    package var resumed: Bool
    /// The verified client certificate's subject ("/CN=secure-echo client").
    package var clientSubject: String?
    /// The key-exchange group ("x25519").
    package var group: String? = nil
    /// The server asked for another ClientHello (HelloRetryRequest: no usable key share).
    package var helloRetried = false
    /// "ok", or why the client's certificate failed verification; nil when it sent none.
    package var clientVerification: String? = nil

    /// "TLSv1.3/TLS_AES_256_GCM_SHA384"
    package var summary: String { "\(version)/\(cipher)" }
}
