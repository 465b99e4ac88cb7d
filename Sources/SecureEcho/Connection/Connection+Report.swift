// What a connection reports: the fields of its close line, and its handshake for /metrics.
import SecureEchoLoop
import SecureEchoSystem
import SecureEchoTLS
import Logging

extension Connection {
    /// A completed TLS handshake, for /metrics (plain TCP has none to count).
    func countHandshake() {
        guard let session = transport.session else { return }
        if case .success(let hello)? = transport.clientHello {
            counters.clientHelloReceived(hello)
            if loop.logger.logLevel <= .debug { ja4 = hello.ja4 }
        }
        counters.handshakeCompleted(version: session.version, cipher: session.cipher, resumed: session.resumed,
                                    seconds: Double(loop.now - openedAt) / 1e9)
    }

    static func failure(_ kind: TransportError.Kind) -> HandshakeFailure {
        switch kind {
        case .handshakeFailed, .protocolFailure: .tls
        case .reset: .reset
        case .preambleRejected: .proxyHeader
        case .peerStoppedReading: .eof
        case .system: .system
        }
    }

    /// The fields of the one line that sums up a connection.
    /// `offer`: the ClientHello of a handshake that did not complete.
    func closedEvent(reason: String, session: NegotiatedSession?, offer: Result<ClientHello, ClientHelloError>?) -> Logger.Metadata {
        var fields: Logger.Metadata = [
            "event": "closed", "peer": "\(peer)", "transport": "\(transport.name)",
            "bytes_in": "\(bytesIn)", "bytes_out": "\(bytesOut)",
            "duration_ms": "\((MonotonicClock.now() - openedAt) / 1_000_000)", "reason": "\(reason)",
        ]
        if let proxy { fields["proxy"] = "\(proxy)" }
        if let session {
            fields["tls_version"] = "\(session.version)"
            fields["cipher"] = "\(session.cipher)"
            fields["resumed"] = session.resumed ? "yes" : "no"
            if let name = session.serverName { fields["sni"] = "\(name)" }
            if let alpn = session.alpn { fields["alpn"] = "\(alpn)" }
            if let offered = session.alpnOffered { fields["alpn_offered"] = "\(offered.joined(separator: ","))" }
            if let client = session.clientSubject { fields["client"] = "\(client)" }
        }
        if let ja4 { fields["ja4"] = "\(ja4)" }
        switch offer {
        case .success(let hello)?:
            fields["offered_versions"] = "\(hello.offeredVersionNames.joined(separator: ","))"
            fields["ja4"] = "\(hello.ja4)"
            if loop.logger.logLevel <= .debug {
                fields["offered_ciphers"] = "\(hello.cipherSuites.filter { !TLSNames.isGREASE($0) }.map(TLSNames.cipher).joined(separator: ","))"
                fields["offered_groups"] = "\(hello.supportedGroups.filter { !TLSNames.isGREASE($0) }.map(TLSNames.group).joined(separator: ","))"
            }
        case .failure(let error)?:
            fields["client_hello"] = "\(error)"
        case nil:
            break
        }
        return fields
    }
}
