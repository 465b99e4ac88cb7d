// The broken-on-purpose TLS endpoints a client library's tests need, one per listener: bad
// certificates of every common kind, one protocol version only, a required client
// certificate, and peers that misbehave during or after the handshake.

public enum TLSProfile: String, CaseIterable, Sendable {
    case good
    case expired
    case notYetValid = "not-yet-valid"
    case wrongHost = "wrong-host"
    case selfSigned = "self-signed"
    case untrustedRoot = "untrusted-root"
    case incompleteChain = "incomplete-chain"
    case reversedChain = "reversed-chain"
    case tls12Only = "tls1.2-only"
    case tls13Only = "tls1.3-only"
    case clientCertRequired = "client-cert-required"
    case handshakeStall = "handshake-stall"
    case handshakeAlert = "handshake-alert"
    case noCloseNotify = "no-close-notify"
    case resetAfterHandshake = "reset-after-handshake"
    case slowEcho = "slow-echo"
}

/// `--profile NAME[=PORT]`: a profile and the port it listens on (0: the OS chooses).
public struct ProfileRequest: Sendable, Equatable {
    public var profile: TLSProfile
    public var port: UInt16

    public init(_ profile: TLSProfile, port: UInt16 = 0) {
        self.profile = profile
        self.port = port
    }

    /// "good", "expired=9443"; "all" is every profile on OS-chosen ports.
    public static func parse(_ text: String) throws(ConfigurationError) -> [ProfileRequest] {
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        let name = String(parts[0])
        if name == "all" {
            guard parts.count == 1 else { throw ConfigurationError("--profile all takes no port (each profile gets one from the OS)") }
            return TLSProfile.allCases.map { ProfileRequest($0) }
        }
        guard let profile = TLSProfile(rawValue: name) else {
            throw ConfigurationError("--profile: unknown profile '\(name)' (all, \(TLSProfile.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard parts.count == 2 else { return [ProfileRequest(profile)] }
        guard let port = UInt16(parts[1]) else {
            throw ConfigurationError("--profile \(name)=PORT: '\(parts[1])' is not a port (0 to 65535)")
        }
        return [ProfileRequest(profile, port: port)]
    }
}

/// --profile-ca and --profile-ca-key: the CA that issues the profiles' certificates instead of
/// one made at start.
public struct ProfileAuthoritySource: Sendable, Equatable {
    public var certificate: String
    public var key: String

    public init(certificate: String, key: String) {
        self.certificate = certificate
        self.key = key
    }
}
