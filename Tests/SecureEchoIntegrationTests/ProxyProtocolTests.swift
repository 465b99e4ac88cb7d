// --proxy-protocol seen from outside: headers written by hand (split, LOCAL, malformed,
// stalled) and a real HAProxy in front of both ports.
import Foundation
import Glibc
import Testing
@testable import SecureEcho
@testable import SecureEchoSystem

private func v1Header(client: String, port: UInt16) -> [UInt8] {
    Array("PROXY TCP4 \(client) 127.0.0.1 \(port) 8000\r\n".utf8)
}

/// An IPv4 v2 PROXY header for `client` (four address bytes) and `port`.
private func v2Header(client: [UInt8], port: UInt16, command: UInt8 = 1) -> [UInt8] {
    let block = client + [127, 0, 0, 1] + [UInt8(port >> 8), UInt8(port & 0xFF), 0x20, 0xFB]
    return ProxyHeaderParser.v2Signature + [0x20 | command, 0x11, 0, UInt8(block.count)] + block
}

/// The server's close line for the connection whose peer was `peer`.
private func closedLine(_ server: ServerProcess, peer: String) -> String? {
    guard server.waitForLog("closed peer=\(peer) ") else { return nil }
    return server.log.split(separator: "\n").first { $0.contains("closed peer=\(peer) ") }.map(String.init)
}

@Suite("PROXY protocol")
struct ProxyProtocolTests {
    @Test("a v1 header written one byte per segment, then a line: echoed, logged as the client it names")
    func v1SplitByteByByte() throws {
        let server = try ServerProcess(["--proxy-protocol", "both"])
        let client = try TestClient(port: server.plainPort, tls: false)
        for byte in v1Header(client: "203.0.113.9", port: 40000) {
            try client.send(String(decoding: [byte], as: UTF8.self))
            usleep(2_000)  // with TCP_NODELAY on both ends, a segment each
        }
        #expect(try client.echo("hello\n") == "hello\n")
        client.close()
        let line = try #require(closedLine(server, peer: "203.0.113.9:40000"), "\(server.log)")
        #expect(line.contains("proxy=127.0.0.1:\(client.localPort) "), "\(line)")
    }

    @Test("a v2 header before the TLS handshake: the handshake and echo work, the log names the client")
    func v2BeforeTLS() throws {
        let server = try ServerProcess(["--proxy-protocol", "v2"])
        let client = try TestClient(port: server.tlsPort, tls: true, preamble: v2Header(client: [198, 51, 100, 7], port: 5555))
        #expect(try client.echo("through a proxy\n") == "through a proxy\n")
        client.close()
        let line = try #require(closedLine(server, peer: "198.51.100.7:5555"), "\(server.log)")
        #expect(line.contains("tls_version=TLSv1.3"))
    }

    @Test("v2 LOCAL (a health check) keeps the socket's own peer and still serves")
    func v2Local() throws {
        let server = try ServerProcess(["--proxy-protocol", "both"])
        let client = try TestClient(port: server.tlsPort, tls: true, preamble: v2Header(client: [1, 2, 3, 4], port: 1, command: 0))
        #expect(try client.echo("local\n") == "local\n")
        client.close()
        #expect(closedLine(server, peer: "127.0.0.1:\(client.localPort)") != nil, "\(server.log)")
    }

    @Test("missing, malformed and oversized headers close only their connection, with the reason", arguments: [
        ("hello\n", "no PROXY protocol header (the connection starts with 'hello"),
        ("PROXY TCP4 192.0.2.1 192.0.2.2 99999 1\r\n", "v1 header with a port that is not 0 to 65535"),
        ("PROXY TCP4 192.0.2.1 192.0.2.2 1 2 " + String(repeating: "x", count: 100), "v1 header longer than 107 bytes"),
        ("v2-truncated", "v2 address block of 8 bytes (this family needs 12)"),
        ("v2-oversized", "v2 header of 65551 bytes (at most 4112)"),
    ])
    func rejected(header: String, reason: String) throws {
        let server = try ServerProcess(["--proxy-protocol", "both"])
        let bytes: [UInt8]
        switch header {
        case "v2-truncated": bytes = ProxyHeaderParser.v2Signature + [0x21, 0x11, 0, 8] + [UInt8](repeating: 1, count: 8)
        case "v2-oversized": bytes = ProxyHeaderParser.v2Signature + [0x21, 0x11, 0xFF, 0xFF]
        default: bytes = Array(header.utf8)
        }
        let bad = try TestClient(port: server.plainPort, tls: false, preamble: bytes)
        // Closed without reading what is left of the bad header, which may reach the client
        // as a reset instead of an end of stream; either way, nothing comes back.
        do {
            #expect(try bad.readToEnd(timeout: 10).isEmpty, "nothing is echoed")
        } catch let error as TransportError where error.kind == .reset {
        }
        bad.close()
        let line = try #require(closedLine(server, peer: "127.0.0.1:\(bad.localPort)"), "\(server.log)")
        #expect(line.contains("reason=\"PROXY header: \(reason)"), "\(line)")
        let good = try TestClient(port: server.plainPort, tls: false, preamble: v1Header(client: "192.0.2.50", port: 1))
        #expect(try good.echo("fine\n") == "fine\n")
    }

    @Test("half a header, then silence, is closed at the handshake timeout")
    func stalledHalfHeader() throws {
        let server = try ServerProcess(["--proxy-protocol", "both", "--handshake-timeout", "1"])
        let start = Date()
        let stalled = try TestClient(port: server.tlsPort, tls: false, preamble: Array("PROXY TCP4 192.0".utf8))
        #expect(try stalled.readToEnd(timeout: 10).isEmpty)
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed > 0.9 && elapsed < 5, "closed after \(elapsed) s")
        let line = try #require(closedLine(server, peer: "127.0.0.1:\(stalled.localPort)"), "\(server.log)")
        #expect(line.contains("reason=\"handshake timeout (PROXY header: 16 bytes read)\""), "\(line)")
    }
}

@Suite("Behind HAProxy")
struct HAProxyTests {
    @Test("HAProxy (send-proxy-v2 to TLS, send-proxy to plain) in front: echo works and the log names the real client")
    func behindHAProxy() throws {
        let haproxy = "/usr/sbin/haproxy"
        try #require(FileManager.default.isExecutableFile(atPath: haproxy), "HAProxy is installed by scripts/test.sh")
        let server = try ServerProcess(["--proxy-protocol", "both"])
        let tlsFront = try freePort(), plainFront = try freePort()
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("haproxy-\(UUID().uuidString).cfg")
        // The README's example configuration, with free ports in place of its own.
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../contrib/haproxy/haproxy.cfg")
        try String(contentsOf: example, encoding: .utf8)
            .replacingOccurrences(of: "bind :4243", with: "bind 127.0.0.1:\(tlsFront)")
            .replacingOccurrences(of: "bind :4242", with: "bind 127.0.0.1:\(plainFront)")
            .replacingOccurrences(of: "127.0.0.1:8443", with: "127.0.0.1:\(server.tlsPort)")
            .replacingOccurrences(of: "127.0.0.1:8000", with: "127.0.0.1:\(server.plainPort)")
            .write(to: config, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: config) }
        let proxy = try ChildProcess(haproxy, ["-db", "-f", config.path], mergeStderr: true)
        defer { proxy.terminate() }
        // HAProxy binds after it has parsed its configuration: wait until it accepts.
        try waitForPort(plainFront).close()
        try waitForPort(tlsFront).close()

        let tls = try TestClient(port: tlsFront, tls: true)
        #expect(try tls.echo("via haproxy over tls\n") == "via haproxy over tls\n")
        tls.close()
        let plain = try TestClient(port: plainFront, tls: false)
        #expect(try plain.echo("via haproxy\n") == "via haproxy\n")
        plain.close()
        // The peer the server logs is each client's own socket, which only the header could tell it.
        #expect(closedLine(server, peer: "127.0.0.1:\(tls.localPort)")?.contains("transport=tls") == true, "\(server.log)")
        #expect(closedLine(server, peer: "127.0.0.1:\(plain.localPort)")?.contains("transport=plain") == true, "\(server.log)")
    }
}
