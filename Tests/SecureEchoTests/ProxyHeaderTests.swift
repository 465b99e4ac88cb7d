import Glibc
import Testing
@testable import SecureEcho
@testable import SecureEchoSystem

private func v1(_ text: String) throws(ProxyHeaderError) -> String? {
    try ProxyHeaderParser.parseV1(Array(text.utf8)).source?.description
}

/// A v2 header: signature, version 2 + `command`, `family`, the length, then `block`.
func proxyV2(command: UInt8 = 1, family: UInt8, block: [UInt8], version: UInt8 = 2) -> [UInt8] {
    ProxyHeaderParser.v2Signature + [version << 4 | command, family, UInt8(block.count >> 8), UInt8(block.count & 0xFF)] + block
}

private func v2(_ header: [UInt8]) throws(ProxyHeaderError) -> String? {
    let total = try ProxyHeaderParser.v2Length(header)
    return try ProxyHeaderParser.parseV2(Array(header.prefix(16 + ProxyHeaderParser.v2AddressBlockMaximum)), total: total).source?.description
}

@Suite("PROXY protocol headers")
struct ProxyHeaderTests {
    @Test("v1 TCP4, TCP6 and UNKNOWN")
    func v1Valid() throws {
        #expect(try v1("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n") == "192.0.2.1:56324")
        #expect(try v1("PROXY TCP6 2001:db8::1 2001:db8::2 1234 443\r\n") == "[2001:db8::1]:1234")
        #expect(try v1("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n") == "0.0.0.0:0")
        #expect(try v1("PROXY UNKNOWN\r\n") == nil)
        #expect(try v1("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n") == nil)
    }

    @Test("malformed v1 headers are refused", arguments: [
        "PROXY TCP4 192.0.2.1  198.51.100.2 56324 443\r\n",   // two spaces
        "PROXY TCP4 192.0.2.1 198.51.100.2 56324\r\n",         // a field missing
        "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443 x\r\n",   // one too many
        "PROXY TCP4 999.0.2.1 198.51.100.2 56324 443\r\n",     // not an address
        "PROXY TCP4 2001:db8::1 198.51.100.2 56324 443\r\n",   // IPv6 under TCP4
        "PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n",            // IPv4 under TCP6
        "PROXY TCP4 192.0.2.1 198.51.100.2 65536 443\r\n",     // port out of range
        "PROXY TCP4 192.0.2.1 198.51.100.2 0443 443\r\n",      // leading zero
        "PROXY TCP4 192.0.2.1 198.51.100.2 -1 443\r\n",        // sign
        "PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n",           // not TCP
        "PROXY TCP4 localhost 198.51.100.2 1 2\r\n",           // a name: never resolved
        "PROXY TCP4 192.0.2.1\t198.51.100.2 1 2\r\n",          // a tab
    ])
    func v1Malformed(header: String) {
        #expect(throws: ProxyHeaderError.self) { _ = try v1(header) }
    }

    @Test("v2 PROXY over IPv4 and IPv6, with TLVs after the addresses")
    func v2Valid() throws {
        let v4 = [10, 0, 0, 1, 10, 0, 0, 2, 0x03, 0xE8, 0x01, 0xBB] as [UInt8]
        #expect(try v2(proxyV2(family: 0x11, block: v4)) == "10.0.0.1:1000")
        let tlv: [UInt8] = [0x05, 0x00, 0x03, 0x61, 0x62, 0x63, 0x05, 0x00, 0x01, 0x64]  // two unique-ID TLVs (duplicates are legal)
        #expect(try v2(proxyV2(family: 0x11, block: v4 + tlv)) == "10.0.0.1:1000")
        let v6 = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1] + [UInt8](repeating: 0, count: 16) + [0x30, 0x39, 0x01, 0xBB]
        #expect(try v2(proxyV2(family: 0x21, block: v6)) == "[2001:db8::1]:12345")
    }

    @Test("v2 LOCAL (health checks) and unspecified or Unix families keep the socket's own peer")
    func v2KeepsPeer() throws {
        #expect(try v2(proxyV2(command: 0, family: 0x00, block: [])) == nil)
        #expect(try v2(proxyV2(command: 0, family: 0x11, block: [1, 2, 3])) == nil, "LOCAL skips whatever it declares")
        #expect(try v2(proxyV2(family: 0x00, block: [])) == nil)
        #expect(try v2(proxyV2(family: 0x31, block: [UInt8](repeating: 0x2F, count: 216))) == nil)
    }

    @Test("malformed v2 headers are refused: version, command, datagrams, short address blocks, oversize")
    func v2Malformed() {
        let v4 = [UInt8](repeating: 1, count: 12)
        #expect(throws: ProxyHeaderError.self) { _ = try v2(proxyV2(family: 0x11, block: v4, version: 1)) }
        #expect(throws: ProxyHeaderError.self) { _ = try v2(proxyV2(command: 2, family: 0x11, block: v4)) }
        #expect(throws: ProxyHeaderError.self) { _ = try v2(proxyV2(family: 0x12, block: v4)) }  // UDP
        #expect(throws: ProxyHeaderError.self) { _ = try v2(proxyV2(family: 0x11, block: Array(v4.prefix(8)))) }  // truncated
        #expect(throws: ProxyHeaderError.self) { _ = try v2(proxyV2(family: 0x21, block: v4)) }  // IPv6 needs 36
        #expect(throws: ProxyHeaderError.self) { _ = try v2(proxyV2(family: 0x41, block: v4)) }  // no family 4
        let oversized = ProxyHeaderParser.v2Signature + [0x21, 0x11, 0xFF, 0xFF]
        #expect(throws: ProxyHeaderError.self) { _ = try ProxyHeaderParser.v2Length(oversized) }
    }

    @Test("the first bytes tell the versions apart, and refuse at once what can be neither")
    func versions() throws {
        #expect(try ProxyHeaderParser.version(of: Array("PRO".utf8), accepting: .both) == nil)
        #expect(try ProxyHeaderParser.version(of: Array("PROXY ".utf8), accepting: .both) == 1)
        #expect(try ProxyHeaderParser.version(of: Array(ProxyHeaderParser.v2Signature.prefix(5)), accepting: .both) == nil)
        #expect(try ProxyHeaderParser.version(of: ProxyHeaderParser.v2Signature, accepting: .v2) == 2)
        #expect(throws: ProxyHeaderError.self) { _ = try ProxyHeaderParser.version(of: [0x16, 0x03], accepting: .both) }  // a ClientHello
        #expect(throws: ProxyHeaderError.self) { _ = try ProxyHeaderParser.version(of: Array("GET".utf8), accepting: .both) }
        #expect(throws: ProxyHeaderError.self) { _ = try ProxyHeaderParser.version(of: Array("PROXY ".utf8), accepting: .v2) }
        #expect(throws: ProxyHeaderError.self) { _ = try ProxyHeaderParser.version(of: [0x0D, 0x0A], accepting: .v1) }
    }
}

/// The reader against a real socket pair: split headers, bytes that follow, limits.
@Suite("PROXY header reader")
final class ProxyHeaderReaderTests {
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
    deinit { scratch.deallocate() }

    private func pair() throws -> (PlainTransport, Socket) {
        let (server, client) = try Socket.makePair()
        return (PlainTransport(socket: server), client)
    }

    private func send(_ bytes: [UInt8], to socket: Socket) throws {
        _ = try bytes.withUnsafeBytes { try socket.write($0) }
    }

    /// What is left for the transport after the header (the client's own bytes).
    private func rest(_ transport: PlainTransport) throws -> [UInt8] {
        guard case .bytes(let n) = try transport.read(into: scratch) else { return [] }
        return Array(scratch[..<n])
    }

    @Test("headers split byte by byte are read whole; the client's bytes after them are left in the socket",
          arguments: [ProxyProtocol.v1, .v2, .both])
    func splitByteByByte(accepting: ProxyProtocol) throws {
        let header = accepting == .v2
            ? proxyV2(family: 0x11, block: [203, 0, 113, 9, 192, 0, 2, 1, 0x9C, 0x40, 0x1F, 0x40] + [0x04, 0x00, 0x02, 0x68, 0x69])
            : Array("PROXY TCP4 203.0.113.9 192.0.2.1 40000 8000\r\n".utf8)
        let (transport, client) = try pair()
        defer { transport.close(); client.close() }
        var reader = ProxyHeaderReader(accepting: accepting)
        for byte in header.dropLast() {
            try send([byte], to: client)
            #expect(try reader.advance(transport, scratch: scratch) == .wouldBlock(.readable))
        }
        try send([header.last ?? 0] + Array("hello\n".utf8), to: client)
        #expect(try reader.advance(transport, scratch: scratch) == .done)
        #expect(reader.client == "203.0.113.9:40000")
        #expect(try rest(transport) == Array("hello\n".utf8))
    }

    @Test("a v1 header followed at once by a ClientHello in one segment leaves the ClientHello whole")
    func v1ThenData() throws {
        let (transport, client) = try pair()
        defer { transport.close(); client.close() }
        let hello: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]
        try send(Array("PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n".utf8) + hello, to: client)
        var reader = ProxyHeaderReader(accepting: .both)
        #expect(try reader.advance(transport, scratch: scratch) == .done)
        #expect(reader.client == "[2001:db8::1]:1")
        #expect(try rest(transport) == hello)
    }

    @Test("a v1 header with no CRLF in 107 bytes is refused; so is one ended by LF alone")
    func v1TooLong() throws {
        for ending in ["", "\n"] {
            let (transport, client) = try pair()
            defer { transport.close(); client.close() }
            try send(Array(("PROXY TCP4 192.0.2.1 192.0.2.2 1 2" + ending + String(repeating: "x", count: 120)).utf8), to: client)
            var reader = ProxyHeaderReader(accepting: .v1)
            #expect(throws: TransportError.self) { _ = try reader.advance(transport, scratch: scratch) }
        }
    }

    @Test("a v2 header declaring more than the limit is refused from its first 16 bytes")
    func v2Oversized() throws {
        let (transport, client) = try pair()
        defer { transport.close(); client.close() }
        try send(ProxyHeaderParser.v2Signature + [0x21, 0x11, 0xFF, 0xFF], to: client)
        var reader = ProxyHeaderReader(accepting: .v2)
        do {
            _ = try reader.advance(transport, scratch: scratch)
            Issue.record("an oversized header was accepted")
        } catch {
            #expect(error.kind == .preambleRejected)
            #expect(error.reason == "PROXY header: v2 header of 65551 bytes (at most 4112)")
        }
    }

    @Test("end of stream inside a header is refused with how far it got")
    func endInside() throws {
        let (transport, client) = try pair()
        defer { transport.close() }
        try send(Array("PROXY TCP4 1.2".utf8), to: client)
        client.close()
        var reader = ProxyHeaderReader(accepting: .both)
        do {
            _ = try reader.advance(transport, scratch: scratch)
            Issue.record("a cut header was accepted")
        } catch {
            #expect(error.reason == "PROXY header: the connection ended within the PROXY header, after 14 bytes")
        }
    }
}
