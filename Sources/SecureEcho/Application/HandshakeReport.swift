// "What did my client offer, and what did we settle on?": one TLS handshake described from
// both sides, as `key: value` lines for terminals or as JSON for programs.
import SecureEchoSystem
import SecureEchoTLS

struct HandshakeReport {
    let peer: String
    let negotiated: NegotiatedSession
    /// The parsed ClientHello, or why it could not be parsed.
    let offer: Result<ClientHello, ClientHelloError>
    /// The listener asks for client certificates (--client-ca).
    let clientCertificatesRequested: Bool

    init?(_ session: SessionInfo, clientCertificatesRequested: Bool) {
        guard let negotiated = session.tls, let offer = session.transport.clientHello else { return nil }
        self.peer = session.peer
        self.negotiated = negotiated
        self.offer = offer
        self.clientCertificatesRequested = clientCertificatesRequested
    }

    // MARK: - Text

    var text: String {
        var lines: [(String, String)] = [("peer", peer)]
        if case .success(let hello) = offer {
            lines += [("ja3", hello.ja3), ("ja3_hash", hello.ja3Hash), ("ja4", hello.ja4), ("ja4_r", hello.ja4Raw)]
        }
        lines += [
            ("tls_version", negotiated.version),
            ("cipher", negotiated.cipher),
            ("group", negotiated.group ?? "none"),
            ("hello_retry_request", negotiated.helloRetried ? "yes" : "no"),
            ("sni", negotiated.serverName ?? "none"),
            ("alpn", negotiated.alpn ?? "none"),
            ("resumed", negotiated.resumed ? "yes" : "no"),
            ("client_certificate", clientCertificate),
        ]
        switch offer {
        case .success(let hello):
            lines += [
                ("legacy_version", "\(TLSNames.version(hello.legacyVersion)) (\(TLSNames.hex(hello.legacyVersion)))"),
                ("offered_versions", Self.list(hello.supportedVersions, TLSNames.version, empty: "none (no supported_versions)")),
                ("offered_ciphers", Self.list(hello.cipherSuites, TLSNames.cipher)),
                ("offered_groups", Self.list(hello.supportedGroups, TLSNames.group)),
                ("key_share_groups", Self.list(hello.keyShareGroups, TLSNames.group)),
                ("signature_algorithms", Self.list(hello.signatureAlgorithms, TLSNames.signatureAlgorithm)),
                ("alpn_offered", hello.alpn.isEmpty ? "none" : hello.alpn.map(Self.clientText).joined(separator: ", ")),
                ("extensions", Self.list(hello.extensions, Self.extensionName)),
                ("client_hello_records", String(hello.records)),
            ]
        case .failure(let error):
            lines.append(("client_hello_error", "\(error)"))
        }
        return lines.map { "\($0): \(Self.lineSafe($1))\n" }.joined()
    }

    private var clientCertificate: String {
        guard clientCertificatesRequested else { return "not requested (the server has no --client-ca)" }
        guard let subject = negotiated.clientSubject else { return "none presented" }
        return "\(subject) (verification: \(negotiated.clientVerification ?? "unknown"))"
    }

    /// "server_name(0)": the name and the number, since both get searched for.
    private static func extensionName(_ type: UInt16) -> String {
        TLSNames.isGREASE(type) ? TLSNames.extensionType(type) : "\(TLSNames.extensionType(type))(\(type))"
    }

    private static func list(_ values: [UInt16], _ name: (UInt16) -> String, empty: String = "none") -> String {
        values.isEmpty ? empty : values.map(name).joined(separator: ", ")
    }

    private static func clientText(_ bytes: [UInt8]) -> String { ClientText.decode(bytes) }

    /// Client-chosen text cannot start a line of its own: control characters become `\xNN`.
    private static func lineSafe(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if isControl(scalar) {
                out += "\\x" + (scalar.value < 16 ? "0" : "") + String(scalar.value, radix: 16, uppercase: true)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || scalar.value == 0x7f || (0x80..<0xa0).contains(scalar.value)
    }

    // MARK: - JSON

    var json: String {
        var fields: [(String, String)] = []
        if case .success(let hello) = offer {
            fields += [("ja3", Self.string(hello.ja3)), ("ja3_hash", Self.string(hello.ja3Hash)),
                       ("ja4", Self.string(hello.ja4)), ("ja4_r", Self.string(hello.ja4Raw))]
            fields.append(("client_hello", Self.object([
                ("legacy_version", Self.string(TLSNames.version(hello.legacyVersion))),
                ("supported_versions", Self.array(hello.supportedVersions.map(TLSNames.version))),
                ("cipher_suites", Self.array(hello.cipherSuites.map(TLSNames.cipher))),
                ("extensions", Self.array(hello.extensions.map(TLSNames.extensionType))),
                ("extension_ids", "[" + hello.extensions.map { String($0) }.joined(separator: ",") + "]"),
                ("supported_groups", Self.array(hello.supportedGroups.map(TLSNames.group))),
                ("key_share_groups", Self.array(hello.keyShareGroups.map(TLSNames.group))),
                ("signature_algorithms", Self.array(hello.signatureAlgorithms.map(TLSNames.signatureAlgorithm))),
                ("alpn", Self.array(hello.alpn.map(Self.clientText))),
                ("sni", hello.serverName.map { Self.string(Self.clientText($0)) } ?? "null"),
                ("records", String(hello.records)),
            ])))
        } else if case .failure(let error) = offer {
            fields.append(("client_hello_error", Self.string("\(error)")))
        }
        var certificate = "null"
        if let subject = negotiated.clientSubject {
            certificate = Self.object([("subject", Self.string(subject)),
                                       ("verification", Self.string(negotiated.clientVerification ?? "unknown"))])
        }
        fields.append(("negotiated", Self.object([
            ("version", Self.string(negotiated.version)),
            ("cipher", Self.string(negotiated.cipher)),
            ("group", negotiated.group.map(Self.string) ?? "null"),
            ("alpn", negotiated.alpn.map(Self.string) ?? "null"),
            ("sni", negotiated.serverName.map(Self.string) ?? "null"),
            ("resumed", negotiated.resumed ? "true" : "false"),
            ("hello_retry_request", negotiated.helloRetried ? "true" : "false"),
            ("client_certificate", certificate),
        ])))
        fields.append(("peer", Self.string(peer)))
        return Self.object(fields) + "\n"
    }

    private static func string(_ text: String) -> String { LogLine.jsonString(text) }
    private static func array(_ items: [String]) -> String { "[" + items.map(string).joined(separator: ",") + "]" }
    private static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\(string($0)):\($1)" }.joined(separator: ",") + "}"
    }
}
