import COpenSSL
import Testing
@testable import SecureEchoTLS

private func wire(_ bytes: [UInt8], _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
    bytes.withUnsafeBufferPointer(body)
}

@Suite("ALPN lists")
struct ALPNTests {
    @Test("a well-formed list decodes in order")
    func decodes() {
        wire(TLSCallbacks.wireFormat(["h2", "http/1.1"])) { #expect(TLSCallbacks.decode($0) == ["h2", "http/1.1"]) }
    }

    @Test("malformed lists: a length past the end stops decoding, an empty list is empty")
    func malformed() {
        wire([2, 0x68, 0x32, 9, 0x61]) { #expect(TLSCallbacks.decode($0) == ["h2"]) }  // "h2", then 9 bytes promised, 1 there
        wire([255]) { #expect(TLSCallbacks.decode($0).isEmpty) }
        wire([]) { #expect(TLSCallbacks.decode($0).isEmpty) }
    }

    @Test("selection takes the server's first preference the client offered, pointing into the offer")
    func selects() throws {
        let callbacks = try TLSCallbacks(keylogPath: nil, alpn: ["echo/1", "h2"])
        wire(TLSCallbacks.wireFormat(["h2", "echo/1"])) { offered in
            let chosen = callbacks.select(from: offered)
            #expect(chosen.map { String(decoding: $0, as: UTF8.self) } == "echo/1")
            #expect(chosen?.baseAddress == offered.baseAddress.map { $0 + 4 })
        }
        wire(TLSCallbacks.wireFormat(["spdy/3"])) { #expect(callbacks.select(from: $0) == nil) }
    }

    @Test("selection never reads past a malformed offer")
    func selectMalformed() throws {
        let callbacks = try TLSCallbacks(keylogPath: nil, alpn: ["h2"])
        wire([200, 0x68, 0x32]) { #expect(callbacks.select(from: $0) == nil) }   // claims 200 bytes
        wire([1, 0x78, 2, 0x68]) { #expect(callbacks.select(from: $0) == nil) }  // "x", then "h" of a promised 2
        wire([0, 2, 0x68, 0x32]) { #expect(callbacks.select(from: $0).map { Array($0) } == [0x68, 0x32]) }  // an empty name first
    }
}

/// A bare server SSL_CTX holding a fresh self-signed certificate for `names`.
private final class NamedContext {
    let pointer: OpaquePointer
    init(_ names: String) throws {
        let certificate = try SelfSignedCertificate.make(commonName: "test", subjectAltNames: names)
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw OpenSSLError.drain("SSL_CTX_new") }
        pointer = ctx
        #expect(SSL_CTX_use_certificate(ctx, certificate.x509) == 1 && SSL_CTX_use_PrivateKey(ctx, certificate.key) == 1)
    }
    deinit { SSL_CTX_free(pointer) }
}

@Suite("SNI routing")
struct SNIRoutingTests {
    @Test("a name picks the first context whose certificate matches it: exact, wildcard, IP; else none")
    func routes() throws {
        let plain = try NamedContext("DNS:a.test,DNS:b.test")
        let wildcard = try NamedContext("DNS:*.wild.test")
        let address = try NamedContext("IP:192.0.2.1")
        let overlap = try NamedContext("DNS:a.test")
        let router = SNIRouter(contexts: [plain.pointer, wildcard.pointer, address.pointer, overlap.pointer])
        #expect(router.context(for: "a.test") == plain.pointer, "first match wins")
        #expect(router.context(for: "B.TEST") == plain.pointer, "host names compare without case")
        #expect(router.context(for: "x.wild.test") == wildcard.pointer)
        #expect(router.context(for: "wild.test") == nil, "a wildcard does not match its parent")
        #expect(router.context(for: "a.b.wild.test") == nil, "a wildcard matches one label only")
        #expect(router.context(for: "192.0.2.1") == address.pointer)
        #expect(router.context(for: "192.0.2.2") == nil)
        #expect(router.context(for: "unknown.test") == nil, "no match: the default certificate is served")
    }
}
