import COpenSSL
import Glibc
import Testing
@testable import SecureEcho
@testable import SecureEchoLoop
@testable import SecureEchoSystem
@testable import SecureEchoTLS

/// After a short read (or write) the transports answer "would block" without a system call.
/// These tests pin down why that is safe: whatever arrives in between is still reported by the
/// level-triggered poller, and an end of stream is still seen.
@Suite("Skipped system calls")
struct SkippedSyscallTests {
    private func send(_ text: String, to socket: Socket) throws {
        let bytes = Array(text.utf8)
        guard case .done(let count) = try bytes.withUnsafeBytes({ try socket.write($0) }) else {
            Issue.record("the socket pair refused \(bytes.count) bytes")
            return
        }
        #expect(count == bytes.count)
    }

    private func readiness(_ poller: any Poller, _ fd: CInt) throws -> Interest? {
        var events: [PollEvent] = []
        try poller.wait(timeoutMilliseconds: 1000, into: &events)
        return events.first { $0.fd == fd }?.ready
    }

    @Test("plain: bytes arriving after a short read are reported by the poller and read intact", arguments: PollerKind.allCases)
    func plainShortRead(kind: PollerKind) throws {
        let (a, b) = makeSocketPair()
        let transport = PlainTransport(socket: a)
        let poller = try makePoller(kind)
        try poller.register(fd: a.descriptor, token: 1, interest: .readable)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 1)
        defer { buffer.deallocate() }

        try send("one\n", to: b)
        #expect(try transport.read(into: buffer) == .bytes(4))
        try send("two\n", to: b)
        #expect(try transport.read(into: buffer) == .wouldBlock(.readable))  // skipped: the last read was short
        #expect(try readiness(poller, a.descriptor) == .readable)
        #expect(try transport.read(into: buffer) == .bytes(4))
        #expect(String(decoding: buffer[0..<4], as: UTF8.self) == "two\n")

        b.close()
        #expect(try transport.read(into: buffer) == .wouldBlock(.readable))
        #expect(try readiness(poller, a.descriptor) != nil)
        #expect(try transport.read(into: buffer) == .endOfStream)
        try poller.deregister(fd: a.descriptor)
    }

    @Test("plain: a full read is not taken for an empty socket")
    func plainFullRead() throws {
        let (a, b) = makeSocketPair()
        let transport = PlainTransport(socket: a)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4, alignment: 1)
        defer { buffer.deallocate() }
        try send("12345678", to: b)
        #expect(try transport.read(into: buffer) == .bytes(4))
        #expect(try transport.read(into: buffer) == .bytes(4))
        #expect(try transport.read(into: buffer) == .wouldBlock(.readable))
    }

    @Test("plain: after a short write the next write waits for writability, and no byte is lost")
    func plainShortWrite() throws {
        let (a, b) = makeSocketPair()
        let transport = PlainTransport(socket: a)
        let chunk = [UInt8](repeating: 0x61, count: 1 << 20)
        var sent = 0
        var blocked = false
        // Fill the socket until a write comes back short, then expect a skipped write.
        while !blocked {
            switch try chunk.withUnsafeBytes({ try transport.write($0) }) {
            case .bytes(let count): sent += count
            case .wouldBlock(let interest):
                #expect(interest == .writable)
                blocked = true
            case .endOfStream: Issue.record("unexpected end of stream")
            }
        }
        var received = 0
        let sink = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 1)
        defer { sink.deallocate() }
        while case .done(let count) = try b.read(into: sink), count > 0 { received += count }
        #expect(received == sent)
    }

    @Test("TLS over SocketBIO: handshake, echo, short reads and a bare FIN as end of stream")
    func tlsOverSocketBIO() throws {
        let (a, b) = makeSocketPair()
        let server = try TLSSession(context: try TLSContext.server(.init()), fd: a.descriptor)
        let client = try TLSSession(context: try TLSContext.client(), fd: b.descriptor)
        var done = (server: false, client: false)
        for _ in 0..<20 where !(done.server && done.client) {
            if !done.client { done.client = try client.handshake() == .done }
            if !done.server { done.server = try server.handshake() == .done }
        }
        #expect(done.server && done.client)

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 1)
        defer { buffer.deallocate() }
        let poller = try makePoller(.epoll)
        try poller.register(fd: a.descriptor, token: 1, interest: .readable)
        // Nothing is pending for the server; this read may be the one skipped after the
        // handshake's last short read, either way it would block.
        #expect(try server.read(into: buffer) == .wouldBlock(.readable))
        var message = Array("hello\n".utf8)
        #expect(try message.withUnsafeBytes { try client.write($0) } == .bytes(6))
        #expect(try readiness(poller, a.descriptor) == .readable)
        #expect(try server.read(into: buffer) == .bytes(6))
        #expect(String(decoding: buffer[0..<6], as: UTF8.self) == "hello\n")

        // The socket was emptied by a short read: the next read is skipped, yet a record that
        // arrives meanwhile is still reported and delivered.
        message = Array("again\n".utf8)
        #expect(try message.withUnsafeBytes { try client.write($0) } == .bytes(6))
        #expect(try server.read(into: buffer) == .wouldBlock(.readable))
        #expect(try readiness(poller, a.descriptor) == .readable)
        #expect(try server.read(into: buffer) == .bytes(6))
        #expect(String(decoding: buffer[0..<6], as: UTF8.self) == "again\n")

        // A peer that closes TCP without close_notify ends the stream (BIO_eof must say so).
        // The client first takes its session ticket: unread bytes would turn the close into a reset.
        for _ in 0..<2 { _ = try client.read(into: buffer) }
        b.close()
        #expect(try readiness(poller, a.descriptor) != nil)
        var outcome = try server.read(into: buffer)
        if outcome == .wouldBlock(.readable) { outcome = try server.read(into: buffer) }
        #expect(outcome == .endOfStream)
        try poller.deregister(fd: a.descriptor)
        withExtendedLifetime(a) {}
    }
}
