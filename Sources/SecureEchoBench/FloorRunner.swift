// What libssl itself costs on this machine, measured in-process with no event loop and no
// server around it: the floor under any OpenSSL-based TLS server here. The bench table sets
// secure-echo's figures against it to show what the server adds.
import SecureEcho
import SecureEchoLoop
import SecureEchoSystem
import SecureEchoTLS

public struct FloorResult: Sendable, Codable {
    /// Full handshakes completed over BIO pairs.
    public var handshakes: Int
    /// Server-side CPU per full handshake as the handshake workload makes it: SSL_new, every
    /// SSL_do_handshake step, reading the client's close_notify (so no session ticket) and
    /// answering it, and SSL_free. Measured with the thread's CPU clock around those calls only.
    public var serverMicrosecondsPerHandshake: Double
    /// The same for the client side, for reference.
    public var clientMicrosecondsPerHandshake: Double
    /// "TLSv1.3/TLS_AES_128_GCM_SHA256"
    public var negotiated: String
    /// Idle server sessions held over socket pairs.
    public var idleSessions: Int
    /// Heap held per idle server `SSL` after its handshake (malloc's count of bytes in use,
    /// so page rounding and fragmentation are not included). Nil when malloc does not keep
    /// that count (a sanitizer's allocator replaces it).
    public var heapKiBPerIdleSession: Double?
    public var failures: [String]
}

public enum FloorRunner {
    /// Runs full handshakes for `duration` seconds, then holds `idleSessions` server sessions.
    /// Both use secure-echo's server context (same certificate type, versions, modes, tickets).
    public static func run(duration: Double, idleSessions: Int) throws -> FloorResult {
        let serverContext = try TLSContext.server(TLSServerOptions())
        let clientContext = try TLSContext.client()
        var result = FloorResult(handshakes: 0, serverMicrosecondsPerHandshake: 0, clientMicrosecondsPerHandshake: 0,
                                 negotiated: "", idleSessions: idleSessions, heapKiBPerIdleSession: nil, failures: [])
        try measureHandshakes(serverContext, clientContext, duration: duration, into: &result)
        try measureIdleMemory(serverContext, clientContext, sessions: idleSessions, into: &result)
        return result
    }

    // MARK: - Handshakes over BIO pairs

    private static func measureHandshakes(_ serverContext: TLSContext, _ clientContext: TLSContext,
                                          duration: Double, into result: inout FloorResult) throws {
        var serverNanos: UInt64 = 0
        var clientNanos: UInt64 = 0
        let end = MonotonicClock.now() + UInt64(duration * 1e9)
        while MonotonicClock.now() < end {
            // Both sessions are made in one timed call and the cost split evenly: SSL_new is
            // the same for either side, and a handshake step is hundreds of times larger.
            var setup: UInt64 = 0
            let pair = try timed(&setup) { try TLSSession.makePair(server: serverContext, client: clientContext) }
            serverNanos += setup / 2
            clientNanos += setup - setup / 2
            var server: TLSSession? = pair.server
            var client: TLSSession? = pair.client
            var completed = false
            if let serverSession = server, let clientSession = client {  // references end here, before the timed frees
                completed = try handshake(serverSession, clientSession, serverNanos: &serverNanos, clientNanos: &clientNanos)
                if completed, try !close(serverSession, clientSession, serverNanos: &serverNanos, clientNanos: &clientNanos) {
                    result.failures.append("the server read something other than the client's close_notify")
                    break
                }
            }
            guard completed else {
                result.failures.append("a handshake over a BIO pair did not finish in 16 steps")
                break
            }
            if result.negotiated.isEmpty { result.negotiated = server?.negotiated ?? "" }
            timed(&serverNanos) { server = nil }
            timed(&clientNanos) { client = nil }
            result.handshakes += 1
        }
        guard result.handshakes > 0 else { return }
        result.serverMicrosecondsPerHandshake = Double(serverNanos) / 1000 / Double(result.handshakes)
        result.clientMicrosecondsPerHandshake = Double(clientNanos) / 1000 / Double(result.handshakes)
    }

    // MARK: - Idle sessions over socket pairs

    /// Handshakes `sessions` server/client pairs over socket pairs, then frees the server
    /// sessions: the heap that freeing returns is what they held while idle.
    private static func measureIdleMemory(_ serverContext: TLSContext, _ clientContext: TLSContext,
                                          sessions: Int, into result: inout FloorResult) throws {
        guard sessions > 0 else { return }
        try? ResourceLimits.ensureOpenFiles(2 * sessions + 64, for: sessions)
        var sockets: [Socket] = []
        var servers: [TLSSession] = []
        var clients: [TLSSession] = []
        sockets.reserveCapacity(2 * sessions)
        servers.reserveCapacity(sessions)
        clients.reserveCapacity(sessions)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 16)
        defer { scratch.deallocate() }
        for _ in 0..<sessions {
            let (serverSocket, clientSocket) = try Socket.makePair()
            sockets.append(serverSocket)
            sockets.append(clientSocket)
            let server = try TLSSession(context: serverContext, fd: serverSocket.descriptor)
            let client = try TLSSession(context: clientContext, fd: clientSocket.descriptor)
            var unmeasured = (server: UInt64(0), client: UInt64(0))
            guard try handshake(server, client, serverNanos: &unmeasured.server, clientNanos: &unmeasured.client) else {
                result.failures.append("a handshake over a socket pair did not finish in 16 steps")
                return
            }
            // The server's first read finds nothing and sends the session ticket, which the
            // client takes, as a real one would; the server then holds what an idle connection
            // costs it (its buffers released, nothing pending).
            _ = try server.read(into: scratch)
            for _ in 0..<2 { _ = try client.read(into: scratch) }
            servers.append(server)
            clients.append(client)
        }
        let held = ProcessStats.heapInUse()
        servers.removeAll()
        let released = ProcessStats.heapInUse()
        if held > released {
            result.heapKiBPerIdleSession = Double(held - released) / 1024 / Double(sessions)
        }
        withExtendedLifetime((sockets, clients)) {}
    }

    /// Steps both sides in turn until both are done (true) or 16 steps passed (false), adding
    /// each side's thread CPU time to its total.
    private static func handshake(_ server: TLSSession, _ client: TLSSession,
                                  serverNanos: inout UInt64, clientNanos: inout UInt64) throws -> Bool {
        var done = (server: false, client: false)
        for _ in 0..<16 where !(done.server && done.client) {
            if !done.client { done.client = try timed(&clientNanos) { try client.handshake() } == .done }
            if !done.server { done.server = try timed(&serverNanos) { try server.handshake() } == .done }
        }
        return done.server && done.client
    }

    /// What the handshake workload's client does next: it sends close_notify at once, and the
    /// server reads it (issuing no ticket: see TLSSession) and answers with its own. False if
    /// the server's read found anything else.
    private static func close(_ server: TLSSession, _ client: TLSSession,
                              serverNanos: inout UInt64, clientNanos: inout UInt64) throws -> Bool {
        _ = try timed(&clientNanos) { try client.shutdown() }
        var byte: UInt8 = 0
        let read = try timed(&serverNanos) { try withUnsafeMutableBytes(of: &byte) { try server.read(into: $0) } }
        _ = try timed(&serverNanos) { try server.shutdown() }
        return read == .endOfStream
    }

    // MARK: - Thread CPU time

    @discardableResult
    private static func timed<T>(_ total: inout UInt64, _ body: () throws -> T) rethrows -> T {
        let start = MonotonicClock.threadCPUNanoseconds()
        defer { total += MonotonicClock.threadCPUNanoseconds() - start }
        return try body()
    }
}
