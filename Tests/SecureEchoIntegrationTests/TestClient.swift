// A client that speaks to the server from the test process, over plain TCP or TLS (using the
// library's own TLS session in client mode), with every wait bounded by a deadline.
import Foundation
import Glibc
@testable import SecureEcho
@testable import SecureEchoLoop
@testable import SecureEchoSystem
@testable import SecureEchoTLS

struct TestTimeout: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out: \(what)" }
}

final class TestClient {
    private let transport: any Transport
    private(set) var sawEndOfStream = false
    /// The client side's own port, as a proxy in front would report it.
    let localPort: UInt16
    var descriptor: CInt { transport.descriptor }

    /// Connects and, for TLS, completes the handshake.
    /// `preamble` is written before the TLS handshake (a PROXY protocol header).
    init(port: UInt16, tls: Bool, host: String = "127.0.0.1", maxVersion: TLSVersion? = nil, timeout: Double = 10,
         preamble: [UInt8] = []) throws {
        // Tests run in parallel and some hold hundreds of clients: lift the usual 1024 soft limit.
        try? ResourceLimits.ensureOpenFiles(16384, for: 16384)
        Signals.ignoreBrokenPipe()  // a pipe to a child that has exited must not kill the test run
        let address = try SocketAddress.resolve(host: host, port: port)
        let socket = try Socket.connect(to: address)
        let deadline = Date().addingTimeInterval(timeout)
        try Self.waitFor(fd: socket.descriptor, events: Int16(POLLOUT), until: deadline, what: "connect to \(address)")
        var error: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        getsockopt(socket.descriptor, SOL_SOCKET, SO_ERROR, &error, &length)
        if error != 0 { throw SystemCallError(call: "connect \(address)", errno: error) }
        localPort = try socket.localAddress().port
        var written = 0
        while written < preamble.count {
            guard case .done(let n) = try preamble.withUnsafeBytes({ try socket.write(UnsafeRawBufferPointer(rebasing: $0[written...])) }) else {
                try Self.waitFor(fd: socket.descriptor, events: Int16(POLLOUT), until: deadline, what: "preamble")
                continue
            }
            written += n
        }
        // The server's own transports, client side: the same code the load generator uses.
        transport = tls
            ? try TLSTransport(socket: socket, context: try TLSContext.client(maxVersion: maxVersion), serverName: "localhost")
            : PlainTransport(socket: socket)
        while case .wouldBlock(let interest) = try transport.handshake() {
            try Self.waitFor(fd: socket.descriptor, events: Self.pollEvents(interest), until: deadline, what: "TLS handshake")
        }
    }

    var negotiated: String? { transport.negotiated }

    // MARK: - Exchanges

    /// Sends `bytes` while reading whatever comes back, until `done(received)` holds or the
    /// deadline passes. Never blocks on one direction while the other could move.
    @discardableResult
    func pump(send bytes: [UInt8] = [], readInto received: inout [UInt8], timeout: Double = 30,
              what: String = "echo", until done: ([UInt8]) -> Bool) throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        var sent = 0
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            var progressed = false
            if sent < bytes.count {
                let result = try bytes.withUnsafeBytes { try transport.write(UnsafeRawBufferPointer(rebasing: $0[sent...])) }
                if case .bytes(let n) = result { sent += n; progressed = true }
            }
            if !sawEndOfStream {
                let result = try buffer.withUnsafeMutableBytes { try transport.read(into: $0) }
                switch result {
                case .bytes(let n): received += buffer.prefix(n); progressed = true
                case .endOfStream: sawEndOfStream = true; progressed = true
                case .wouldBlock: break
                }
            }
            if sent == bytes.count && done(received) { return sent }
            if sawEndOfStream && sent == bytes.count { return sent }
            if !progressed {
                if Date() > deadline { throw TestTimeout(what: "\(what): sent \(sent)/\(bytes.count), received \(received.count)") }
                var events = Int16(POLLIN)
                if sent < bytes.count { events |= Int16(POLLOUT) }
                var p = pollfd(fd: descriptor, events: events, revents: 0)
                _ = poll(&p, 1, 20)
            }
        }
    }

    /// One write attempt and no read; returns the bytes taken (0 when the socket is full).
    func writeOnce(_ bytes: ArraySlice<UInt8>) throws -> Int {
        let result = try bytes.withUnsafeBytes { try transport.write($0) }
        if case .bytes(let n) = result { return n }
        return 0
    }

    /// Sends `bytes` and returns exactly `count` echoed bytes.
    func echo(_ bytes: [UInt8], expecting count: Int? = nil, timeout: Double = 30) throws -> [UInt8] {
        let want = count ?? bytes.count
        var received: [UInt8] = []
        try pump(send: bytes, readInto: &received, timeout: timeout) { $0.count >= want }
        return received
    }

    func echo(_ text: String, timeout: Double = 30) throws -> String {
        String(decoding: try echo(Array(text.utf8), timeout: timeout), as: UTF8.self)
    }

    /// Sends `text` without reading anything (echo stays queued for a later read).
    func send(_ text: String, timeout: Double = 30) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        let deadline = Date().addingTimeInterval(timeout)
        while sent < bytes.count {
            let n = try writeOnce(bytes[sent...])
            sent += n
            if n == 0 { try Self.waitFor(fd: descriptor, events: Int16(POLLOUT), until: deadline, what: "send") }
        }
    }

    /// Whatever arrives within `timeout` (used to check that nothing arrives).
    func receiveAvailable(timeout: Double) throws -> [UInt8] {
        var received: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline && !sawEndOfStream {
            _ = try? pump(readInto: &received, timeout: 0.05) { _ in false }
        }
        return received
    }

    /// Reads until the server ends the stream.
    func readToEnd(timeout: Double = 30) throws -> [UInt8] {
        var received: [UInt8] = []
        try pump(readInto: &received, timeout: timeout, what: "end of stream") { _ in false }
        return received
    }

    /// Ends our direction: TCP FIN (for TLS without close_notify, the way nc-style clients
    /// just stop), or a TLS close_notify.
    func shutdownWrite(closeNotify: Bool = false) throws {
        if closeNotify {
            _ = try transport.shutdownOutput()
        } else if Glibc.shutdown(descriptor, CInt(SHUT_WR)) != 0 {
            throw SystemCallError(call: "shutdown", errno: errno)
        }
    }

    func close() { transport.close() }

    // MARK: - Waiting

    private static func pollEvents(_ interest: Interest) -> Int16 {
        var events: Int16 = 0
        if interest.contains(.readable) { events |= Int16(POLLIN) }
        if interest.contains(.writable) { events |= Int16(POLLOUT) }
        return events
    }

    static func waitFor(fd: CInt, events: Int16, until deadline: Date, what: String) throws {
        while true {
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 { throw TestTimeout(what: what) }
            var p = pollfd(fd: fd, events: events, revents: 0)
            if poll(&p, 1, CInt(min(remaining, 1) * 1000) + 1) > 0 { return }
        }
    }
}

extension Array where Element == UInt8 {
    static func random(count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset < raw.count {
                var word = generator.next()
                let n = Swift.min(8, raw.count - offset)
                Swift.withUnsafeBytes(of: &word) { raw.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: n) }
                offset += n
            }
        }
        return bytes
    }
}
