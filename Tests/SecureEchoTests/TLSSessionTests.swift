import COpenSSL
import Testing
@testable import SecureEcho
@testable import SecureEchoLoop
@testable import SecureEchoSystem
@testable import SecureEchoTLS

/// A server and a client session joined by an in-memory BIO pair: the handshake, would-block
/// outcomes and short writes are driven deterministically, without sockets.
private final class SessionPair {
    let server: TLSSession
    let client: TLSSession

    init(bufferSize: Int = 0, maxVersion: TLSVersion? = nil) throws {
        var serverBIO: OpaquePointer?
        var clientBIO: OpaquePointer?
        guard BIO_new_bio_pair(&serverBIO, bufferSize, &clientBIO, bufferSize) == 1,
              let serverBIO, let clientBIO else {
            throw OpenSSLError.drain("BIO_new_bio_pair")
        }
        server = try TLSSession(context: try TLSContext.server(.init()), bio: serverBIO)
        client = try TLSSession(context: try TLSContext.client(maxVersion: maxVersion), bio: clientBIO)
    }

    /// Alternates both sides until both report done; returns the steps each took.
    @discardableResult
    func handshake() throws -> (server: [Step], client: [Step]) {
        var serverSteps: [Step] = [], clientSteps: [Step] = []
        for _ in 0..<20 {
            let c = try client.handshake()
            clientSteps.append(c)
            let s = try server.handshake()
            serverSteps.append(s)
            if c == .done && s == .done { return (serverSteps, clientSteps) }
        }
        Issue.record("handshake did not finish in 20 rounds")
        return (serverSteps, clientSteps)
    }
}

@Suite("TLSSession over a BIO pair")
struct TLSSessionTests {
    @Test("the server waits to read before the ClientHello, then both sides complete")
    func handshake() throws {
        let pair = try SessionPair()
        #expect(try pair.server.handshake() == .wouldBlock(.readable))
        let steps = try pair.handshake()
        #expect(steps.client.first == .wouldBlock(.readable))
        #expect(pair.server.negotiated.hasPrefix("TLSv1.3/"))
    }

    @Test("TLS 1.2 negotiates a forward-secret AEAD suite")
    func tls12() throws {
        let pair = try SessionPair(maxVersion: .tls12)
        try pair.handshake()
        #expect(pair.server.negotiated.hasPrefix("TLSv1.2/ECDHE-"))
        #expect(pair.server.negotiated.contains("GCM") || pair.server.negotiated.contains("CHACHA20"))
    }

    @Test("a read with no record available would block on read; data then arrives intact")
    func wantRead() throws {
        let pair = try SessionPair()
        try pair.handshake()
        var buffer = [UInt8](repeating: 0, count: 1024)
        let empty = try buffer.withUnsafeMutableBytes { try pair.server.read(into: $0) }
        #expect(empty == .wouldBlock(.readable))
        let message = Array("Hola Mundo\r\n".utf8)
        #expect(try message.withUnsafeBytes { try pair.client.write($0) } == .bytes(message.count))
        let got = try buffer.withUnsafeMutableBytes { try pair.server.read(into: $0) }
        #expect(got == .bytes(message.count))
        #expect(Array(buffer.prefix(message.count)) == message)
    }

    @Test("several records in one delivery leave plaintext pending inside OpenSSL")
    func pendingPlaintext() throws {
        let pair = try SessionPair()
        try pair.handshake()
        for line in ["one\n", "two\n", "three\n"] {
            _ = try Array(line.utf8).withUnsafeBytes { try pair.client.write($0) }
        }
        var small = [UInt8](repeating: 0, count: 2)
        #expect(try small.withUnsafeMutableBytes { try pair.server.read(into: $0) } == .bytes(2))
        #expect(pair.server.hasBufferedInput)
        var rest = [UInt8](repeating: 0, count: 64)
        var collected = small
        while case .bytes(let n) = try rest.withUnsafeMutableBytes({ try pair.server.read(into: $0) }) {
            collected += rest.prefix(n)
        }
        #expect(String(decoding: collected, as: UTF8.self) == "one\ntwo\nthree\n")
        #expect(!pair.server.hasBufferedInput)
    }

    @Test("a full transport makes writes short or would-block; retried, every byte arrives in order")
    func shortWrites() throws {
        let pair = try SessionPair(bufferSize: 4096)
        try pair.handshake()
        let payload = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var sent = 0
        var received: [UInt8] = []
        var wouldBlockCount = 0
        var buffer = [UInt8](repeating: 0, count: 16384)
        while received.count < payload.count {
            if sent < payload.count {
                switch try payload.withUnsafeBytes({ try pair.client.write(UnsafeRawBufferPointer(rebasing: $0[sent...])) }) {
                case .bytes(let n): sent += n
                case .wouldBlock(let interest):
                    #expect(interest == .writable)
                    wouldBlockCount += 1
                case .endOfStream: Issue.record("unexpected end of stream")
                }
            }
            while case .bytes(let n) = try buffer.withUnsafeMutableBytes({ try pair.server.read(into: $0) }) {
                received += buffer.prefix(n)
            }
        }
        #expect(wouldBlockCount > 0)
        #expect(received == payload)
    }

    @Test("close_notify is an end of stream, and shutdown answers it")
    func closeNotify() throws {
        let pair = try SessionPair()
        try pair.handshake()
        #expect(try pair.client.shutdown() == .done)
        var buffer = [UInt8](repeating: 0, count: 64)
        #expect(try buffer.withUnsafeMutableBytes { try pair.server.read(into: $0) } == .endOfStream)
        #expect(try pair.server.shutdown() == .done)
    }

    @Test("garbage instead of a ClientHello is a typed error, and shutdown is then skipped")
    func garbage() throws {
        var serverBIO: OpaquePointer?, peerBIO: OpaquePointer?
        #expect(BIO_new_bio_pair(&serverBIO, 0, &peerBIO, 0) == 1)
        guard let serverBIO, let peerBIO else { return }
        defer { BIO_free(peerBIO) }
        let server = try TLSSession(context: try TLSContext.server(.init()), bio: serverBIO)
        let junk = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        #expect(BIO_write(peerBIO, junk, Int32(junk.count)) == Int32(junk.count))
        #expect {
            try server.handshake()
        } throws: { error in
            guard case .library(let library) = error as? TLSSessionError else { return false }
            return library.operation == "handshake" && library.reasons == ["http request"]
        }
        #expect(server.isFatal)
        #expect(try server.shutdown() == .done)
        #expect(ERR_peek_error() == 0, "the error queue was drained")
    }
}
