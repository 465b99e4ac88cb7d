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
    /// The client's end of the pair (owned by its SSL): what the server sent waits here.
    private let clientBIO: OpaquePointer

    init(bufferSize: Int = 0, maxVersion: TLSVersion? = nil, options: TLSServerOptions = .init()) throws {
        var serverBIO: OpaquePointer?
        var clientBIO: OpaquePointer?
        guard BIO_new_bio_pair(&serverBIO, bufferSize, &clientBIO, bufferSize) == 1,
              let serverBIO, let clientBIO else {
            throw OpenSSLError.drain("BIO_new_bio_pair")
        }
        server = try TLSSession(context: try TLSContext.server(options), bio: serverBIO)
        client = try TLSSession(context: try TLSContext.client(maxVersion: maxVersion), bio: clientBIO)
        self.clientBIO = clientBIO
    }

    /// Bytes the server has sent that the client has not read yet.
    var unreadByClient: Int { Int(BIO_ctrl_pending(clientBIO)) }

    /// Runs the handshake up to the client's Finished, which the server has not read yet.
    func handshakeUntilClientFinished() throws {
        #expect(try client.handshake() == .wouldBlock(.readable))
        #expect(try server.handshake() == .wouldBlock(.readable))
        #expect(try client.handshake() == .done)
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

    /// A TLS 1.3 record carrying `count` bytes: header, content type, AEAD tag.
    private static func recordSize(_ count: Int) -> Int { 5 + count + 1 + 16 }

    @Test("a TLS 1.3 ticket goes out at the first read that finds no data, and not with a handshake alone")
    func ticketAtFirstRead() throws {
        let pair = try SessionPair()
        try pair.handshakeUntilClientFinished()
        #expect(try pair.server.handshake() == .done)
        #expect(pair.unreadByClient == 0, "no ticket at the handshake's end")
        var buffer = [UInt8](repeating: 0, count: 64)
        #expect(try buffer.withUnsafeMutableBytes { try pair.server.read(into: $0) } == .wouldBlock(.readable))
        let ticket = pair.unreadByClient
        #expect(ticket > Self.recordSize(100), "one NewSessionTicket record: \(ticket) bytes")
        // Only one: the next reads and writes add nothing but their own records.
        #expect(try buffer.withUnsafeMutableBytes { try pair.server.read(into: $0) } == .wouldBlock(.readable))
        #expect(try Array("hi".utf8).withUnsafeBytes { try pair.server.write($0) } == .bytes(2))
        #expect(pair.unreadByClient == ticket + Self.recordSize(2))
    }

    @Test("a client whose close_notify follows its Finished gets only the server's close_notify")
    func noTicketForClosingClient() throws {
        let pair = try SessionPair()
        try pair.handshakeUntilClientFinished()
        #expect(try pair.client.shutdown() == .done)
        #expect(try pair.server.handshake() == .done)
        var buffer = [UInt8](repeating: 0, count: 64)
        #expect(try buffer.withUnsafeMutableBytes { try pair.server.read(into: $0) } == .endOfStream)
        #expect(try pair.server.shutdown() == .done)
        #expect(pair.unreadByClient == Self.recordSize(2), "a close_notify alert (2 bytes) and no ticket")
    }

    @Test("a server that speaks first sends the ticket ahead of its first record")
    func ticketBeforeFirstWrite() throws {
        let reading = try SessionPair()
        try reading.handshake()
        var buffer = [UInt8](repeating: 0, count: 64)
        _ = try buffer.withUnsafeMutableBytes { try reading.server.read(into: $0) }
        let ticket = reading.unreadByClient

        let pair = try SessionPair()
        try pair.handshake()
        let report = Array("tls_version: TLSv1.3\n".utf8)
        #expect(try report.withUnsafeBytes { try pair.server.write($0) } == .bytes(report.count))
        #expect(pair.unreadByClient == ticket + Self.recordSize(report.count))
        // The client reads the ticket through to the report.
        #expect(try buffer.withUnsafeMutableBytes { try pair.client.read(into: $0) } == .bytes(report.count))
        #expect(Array(buffer.prefix(report.count)) == report)
    }

    @Test("a ticket that does not fit the transport makes the read wait for writable; the next read finishes it")
    func ticketWriteBlocks() throws {
        let pair = try SessionPair(bufferSize: 128)
        try pair.handshake()
        var buffer = [UInt8](repeating: 0, count: 64)
        _ = try buffer.withUnsafeMutableBytes { try pair.client.read(into: $0) }  // what the handshake left
        #expect(try buffer.withUnsafeMutableBytes { try pair.server.read(into: $0) } == .wouldBlock(.writable))
        #expect(pair.unreadByClient == 128)
        #expect(try buffer.withUnsafeMutableBytes { try pair.client.read(into: $0) } == .wouldBlock(.readable))
        #expect(try buffer.withUnsafeMutableBytes { try pair.server.read(into: $0) } == .wouldBlock(.readable))
        #expect(try buffer.withUnsafeMutableBytes { try pair.client.read(into: $0) } == .wouldBlock(.readable))
        #expect(pair.unreadByClient == 0, "the client took the whole ticket")
        let message = Array("after the ticket\n".utf8)
        #expect(try message.withUnsafeBytes { try pair.client.write($0) } == .bytes(message.count))
        #expect(try buffer.withUnsafeMutableBytes { try pair.server.read(into: $0) } == .bytes(message.count))
        #expect(Array(buffer.prefix(message.count)) == message)
    }

    @Test("no ticket without resumption, nor over TLS 1.2 after the handshake", arguments: [false, true])
    func noPostHandshakeTicket(tls12: Bool) throws {
        var options = TLSServerOptions()
        options.resumption = tls12  // TLS 1.2 sends its ticket inside the handshake
        let pair = try SessionPair(maxVersion: tls12 ? .tls12 : nil, options: options)
        try pair.handshake()
        var buffer = [UInt8](repeating: 0, count: 64)
        _ = try buffer.withUnsafeMutableBytes { try pair.client.read(into: $0) }  // what the handshake left
        #expect(try buffer.withUnsafeMutableBytes { try pair.server.read(into: $0) } == .wouldBlock(.readable))
        #expect(pair.unreadByClient == 0)
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
