import Glibc
import Logging
import Testing
@testable import SecureEcho
@testable import SecureEchoLoop
@testable import SecureEchoSystem
@testable import SecureEchoTLS

/// A transport whose reads and writes follow a script, on a real descriptor the loop can poll.
private final class ScriptedTransport: Transport {
    enum Read { case data(String), wouldBlock(Interest), end }
    let peerSocket: Socket
    private let socket: Socket
    var reads: [Read]
    /// Outcomes for successive writes: nil accepts everything offered.
    var writeOutcomes: [IOResult?] = []
    private(set) var written: [UInt8] = []
    private(set) var log: [String] = []
    private(set) var shutdownCalled = false

    init(reads: [Read]) {
        var fds: [CInt] = [-1, -1]
        precondition(socketpair(AF_UNIX, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue), 0, &fds) == 0)
        socket = Socket(takingOwnershipOf: fds[0])
        peerSocket = Socket(takingOwnershipOf: fds[1])
        self.reads = reads
    }

    var name: String { "scripted" }
    var negotiated: String? { nil }
    var handshakeProgress: String? { nil }
    var descriptor: CInt { socket.descriptor }
    var hasBufferedInput: Bool { if case .data = reads.first { return true } else { return false } }
    func handshake() throws(TransportError) -> Step { .done }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> IOResult {
        guard !reads.isEmpty else { log.append("read:block"); return .wouldBlock(.readable) }
        switch reads.removeFirst() {
        case .data(let text):
            let bytes = Array(text.utf8)
            buffer.copyBytes(from: bytes)
            log.append("read:\(text)")
            return .bytes(bytes.count)
        case .wouldBlock(let interest):
            log.append("read:block")
            return .wouldBlock(interest)
        case .end:
            log.append("read:end")
            return .endOfStream
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(TransportError) -> IOResult {
        if !writeOutcomes.isEmpty, let outcome = writeOutcomes.removeFirst() {
            if case .bytes(let n) = outcome {
                written += bytes.prefix(n)
                log.append("write:\(n)")
            } else {
                log.append("write:block")
            }
            return outcome
        }
        written += bytes
        log.append("write:\(bytes.count)")
        return .bytes(bytes.count)
    }

    func shutdownOutput() throws(TransportError) -> Step { shutdownCalled = true; return .done }
    func close() { socket.close() }

    var writtenText: String { String(decoding: written, as: UTF8.self) }
}

private func makeLoop() throws -> EventLoop {
    EventLoop(poller: try makePoller(.poll), logger: Logger(label: "test"))
}

private func makeConnection(_ loop: EventLoop, _ transport: ScriptedTransport) -> Connection {
    let policy = EchoPolicy(mode: .line, maxLine: 1024, handshakeTimeout: 10_000_000_000, idleTimeout: 10_000_000_000)
    return Connection(loop: loop, transport: transport, peer: "test", policy: policy)
}

@Suite("Connection state machine")
struct ConnectionTests {
    @Test("input the poller cannot see is served again before the loop sleeps")
    func pendingInputIsServed() throws {
        let loop = try makeLoop()
        let lines = (0..<(Connection.readBudget * 3)).map { "line \($0)\n" }
        // Everything sits "inside" the transport; the descriptor itself never becomes readable.
        let transport = ScriptedTransport(reads: lines.map { .data($0) })
        let connection = makeConnection(loop, transport)
        try connection.start()
        #expect(transport.writtenText == lines.prefix(Connection.readBudget).joined())
        for _ in 0..<3 { try loop.runOnce(maximumWaitMilliseconds: 2000) }
        #expect(transport.writtenText == lines.joined())
    }

    @Test("a write that would block is retried before any further read")
    func blockedWriteComesFirst() throws {
        let loop = try makeLoop()
        let transport = ScriptedTransport(reads: [.data("one\n"), .wouldBlock(.readable), .data("two\n")])
        // The first write needs the socket to be readable (a TLS write can); the retry succeeds.
        transport.writeOutcomes = [.wouldBlock(.readable), nil, nil]
        let connection = makeConnection(loop, transport)
        try connection.start()
        #expect(transport.log == ["read:one\n", "read:block", "write:block"])
        _ = try [UInt8(0)].withUnsafeBytes { try transport.peerSocket.write($0) }  // wake it
        try loop.runOnce(maximumWaitMilliseconds: 2000)
        #expect(Array(transport.log.prefix(5)) == ["read:one\n", "read:block", "write:block", "write:4", "read:two\n"])
        #expect(transport.writtenText == "one\ntwo\n")
    }

    @Test("end of stream echoes the unfinished line, then ends our side and closes")
    func endOfStream() throws {
        let loop = try makeLoop()
        let transport = ScriptedTransport(reads: [.data("Hola\nMun"), .wouldBlock(.readable), .data("do"), .end])
        let connection = makeConnection(loop, transport)
        try connection.start()
        #expect(transport.writtenText == "Hola\n")
        _ = try [UInt8(0)].withUnsafeBytes { try transport.peerSocket.write($0) }
        try loop.runOnce(maximumWaitMilliseconds: 2000)
        #expect(transport.writtenText == "Hola\nMundo")
        #expect(transport.shutdownCalled)
        #expect(connection.state == .closed)
        #expect(loop.registeredCount == 0)
    }

    @Test("lines that arrive together are gathered and echoed in one write")
    func gatheredReads() throws {
        let loop = try makeLoop()
        let transport = ScriptedTransport(reads: [.data("a\n"), .data("bb\n"), .data("ccc\n")])
        let connection = makeConnection(loop, transport)
        try connection.start()
        #expect(transport.log == ["read:a\n", "read:bb\n", "read:ccc\n", "read:block", "write:9"])
        #expect(transport.writtenText == "a\nbb\nccc\n")
    }

    @Test("a short unfinished line joins the lines completing it in one write")
    func carriedTail() throws {
        let loop = try makeLoop()
        let transport = ScriptedTransport(reads: [.data("Ho"), .wouldBlock(.readable), .data("la\nMun"), .data("do\nx")])
        let connection = makeConnection(loop, transport)
        try connection.start()
        #expect(transport.writtenText.isEmpty)
        _ = try [UInt8(0)].withUnsafeBytes { try transport.peerSocket.write($0) }  // wake it
        try loop.runOnce(maximumWaitMilliseconds: 2000)
        #expect(transport.log.filter { $0.hasPrefix("write") } == ["write:11"])
        #expect(transport.writtenText == "Hola\nMundo\n")
    }

    @Test("a read that needs writability waits for writability")
    func crossedRead() throws {
        let loop = try makeLoop()
        let transport = ScriptedTransport(reads: [.wouldBlock(.writable), .data("x\n")])
        let connection = makeConnection(loop, transport)
        try connection.start()
        // The socketpair is writable at once, so one pass must retry the read.
        try loop.runOnce(maximumWaitMilliseconds: 2000)
        #expect(transport.writtenText == "x\n")
    }
}

/// Records which handler got which event.
private final class RecordingHandler: EventHandler {
    let name: String
    var onEvent: (() -> Void)?
    private(set) var events = 0
    init(_ name: String) { self.name = name }
    func handle(_ ready: Interest) { events += 1; onEvent?() }
    func deadlinePassed(now: UInt64) {}
}

@Suite("Event loop")
struct EventLoopTests {
    @Test("an fd closed and reused inside one batch never gets the old registration's event",
          arguments: PollerKind.allCases)
    func staleEventsAreDropped(kind: PollerKind) throws {
        let loop = EventLoop(poller: try makePoller(kind), logger: Logger(label: "test"))
        var fds: [CInt] = [-1, -1]
        precondition(socketpair(AF_UNIX, CInt(SOCK_STREAM.rawValue), 0, &fds) == 0)
        var other: [CInt] = [-1, -1]
        precondition(socketpair(AF_UNIX, CInt(SOCK_STREAM.rawValue), 0, &other) == 0)
        defer { for fd in fds + other where fd >= 0 { close(fd) } }
        // Both ends readable in the same batch.
        _ = write(fds[1], "a", 1)
        _ = write(other[1], "b", 1)
        let first = RecordingHandler("first"), victim = RecordingHandler("victim"), newcomer = RecordingHandler("newcomer")
        let firstToken = try loop.register(first, fd: fds[0], interest: .readable)
        let victimToken = try loop.register(victim, fd: other[0], interest: .readable)
        _ = firstToken
        var reused: CInt = -1
        let handlerForFirst = {
            // Whichever runs first closes the other's fd and reuses the number at once.
            loop.deregister(fd: other[0], token: victimToken)
            // dup2 closes the victim's descriptor and reuses its number in one step (tests
            // run in parallel, so "the lowest free number" would race).
            reused = dup2(fds[1], other[0])
            #expect(reused == other[0])
            other[0] = -1
            _ = try? loop.register(newcomer, fd: reused, interest: .readable)
        }
        first.onEvent = handlerForFirst
        victim.onEvent = { loop.deregister(fd: fds[0], token: firstToken) }
        try loop.runOnce(maximumWaitMilliseconds: 2000)
        #expect(first.events == 1 && victim.events == 0, "the scenario ran: first closed and reused the victim's fd")
        #expect(newcomer.events == 0, "the reused fd must not receive the old registration's event")
        if reused >= 0 { close(reused) }
        first.onEvent = nil  // the closures hold the loop, which holds the handlers
        victim.onEvent = nil
    }
}
