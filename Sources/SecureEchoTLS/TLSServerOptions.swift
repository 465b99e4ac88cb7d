// What the TLS listener offers: certificate, versions, client certificates, resumption,
// key logging and ALPN. A value, built by the CLI or by hand.
import SecureEchoSystem

/// Where the server's certificate comes from.
public enum CertificateSource: Sendable, Equatable {
    /// A self-signed P-256 certificate made in memory at start.
    case ephemeral
    /// PEM files: a certificate chain (leaf first) and its private key.
    case files(certificate: String, key: String)
    /// Made in-process (test profiles): the leaf and exactly the chain to send after it, in
    /// that order (nothing is added from any store).
    case issued(CertificateAndKey, chain: [CertificateAndKey])

    public static func == (a: CertificateSource, b: CertificateSource) -> Bool {
        switch (a, b) {
        case (.ephemeral, .ephemeral): true
        case let (.files(c1, k1), .files(c2, k2)): c1 == c2 && k1 == k2
        case let (.issued(l1, ch1), .issued(l2, ch2)): l1 === l2 && ch1.count == ch2.count && zip(ch1, ch2).allSatisfy { $0 === $1 }
        default: false
        }
    }
}

/// Whether a client certificate is demanded when `clientCA` is set.
public enum ClientAuth: String, CaseIterable, Sendable {
    /// A client without an acceptable certificate is refused during the handshake.
    case required
    /// A client may send none; one it does send must still verify.
    case optional
}

public struct TLSServerOptions: Sendable, Equatable {
    /// The served certificates: the first is the default; with several, the one whose names
    /// match the client's SNI server name is used.
    public var certificates: [CertificateSource] = [.ephemeral]
    /// Lowest TLS version accepted.
    public var minimumVersion = TLSVersion.tls12
    /// Highest TLS version accepted; nil: the highest OpenSSL knows.
    public var maximumVersion: TLSVersion?
    /// Answer every ClientHello with a fatal handshake_failure alert (a test profile).
    public var refuseEveryHandshake = false
    /// PEM bundle of the CAs that client certificates must chain to; nil asks for none.
    public var clientCA: String?
    public var clientAuth = ClientAuth.required
    /// TLS 1.3 tickets and TLS 1.2 session IDs and tickets.
    public var resumption = true
    /// Server-side session cache entries (TLS 1.2 session IDs).
    public var sessionCacheSize = 20_000
    /// Appends NSS key-log lines here (for Wireshark); nil disables it.
    public var keylogPath: String?
    /// Protocols offered through ALPN, in the server's order of preference; empty ignores ALPN.
    public var alpn: [String] = []
    /// A client offering none of `alpn` goes on without ALPN instead of being refused.
    public var alpnOptional = false
    /// Key-exchange groups, in OpenSSL's list syntax and the server's order of preference:
    /// Mozilla's intermediate profile by default.
    public var groups = TLSServerOptions.defaultGroups
    /// Session-ticket key files shared by a fleet (nginx's format, 48 or 80 bytes): the first
    /// encrypts, all decrypt. Empty: OpenSSL's own random keys, kept across reloads.
    public var ticketKeyFiles: [String] = []
    public static let defaultGroups = "X25519:P-256:P-384"

    public init(certificate: CertificateSource = .ephemeral) {
        certificates = [certificate]
    }
}
