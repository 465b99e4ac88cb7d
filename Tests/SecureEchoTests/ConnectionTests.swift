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
    var session: NegotiatedSession? { nil }
    var handshakeProgress: String? { nil }
    var descriptor: CInt { socket.descriptor }
    var hasBufferedInput: Bool { if case .data = reads.first { return true } else { return false } }
    func handshake() throws(TransportError) -> Step { log.append("handshake"); return .done }

    /// Raw bytes before the handshake, served from the front of the script like reads.
    func readBeforeHandshake(into buffer: UnsafeMutableRawBufferPointer, peek: Bool) throws(TransportError) -> IOResult {
        guard case .data(let text)? = reads.first else { return try read(into: buffer) }
        let bytes = Array(text.utf8)
        let count = min(bytes.count, buffer.count)
        buffer.copyBytes(from: bytes.prefix(count))
        if peek {
            log.append("peek:\(text)")
        } else {
            reads.removeFirst()
            if count < bytes.count { reads.insert(.data(String(decoding: bytes[count...], as: UTF8.self)), at: 0) }
            log.append("raw:\(String(decoding: bytes.prefix(count), as: UTF8.self))")
        }
        return .bytes(count)
    }

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
    private(set) var resetRequested = false
    func resetOnClose() { resetRequested = true }

    var writtenText: String { String(decoding: written, as: UTF8.self) }
}

private func makeLoop() throws -> EventLoop {
    EventLoop(poller: try makePoller(.poll), logger: Logger(label: "test"))
}

private func makeConnection(_ loop: EventLoop, _ transport: ScriptedTransport,
                            application: any Application = LineEcho(maxLine: 1024),
                            preamble: (any Preamble)? = nil, pace: UInt64? = nil) -> Connection {
    var policy = ConnectionPolicy(handshakeTimeout: 10_000_000_000, idleTimeout: 10_000_000_000)
    policy.pace = pace
    return Connection(loop: loop, transport: transport, peer: "test", policy: policy,
                      application: application, preamble: preamble)
}

/// An application that answers instead of echoing: a greeting, "ok" per arrival, "bye" and a close on "quit".
private struct Greeter: Application {
    func start(_ session: SessionInfo) -> Reply { .send(Array("hello \(session.peer) via \(session.transportName)\n".utf8)) }
    func receive(_ fresh: UnsafeRawBufferPointer) -> Reply {
        String(decoding: fresh, as: UTF8.self).contains("quit") ? .send(Array("bye\n".utf8), closeReason: "quit") : .send(Array("ok\n".utf8))
    }
    func finish() -> Reply { .nothing }
}

/// A preamble of one "PEER name\n" line, read the way a PROXY header is: peek, then take exactly its bytes.
private struct HeaderLine: Preamble {
    var client: String?
    var progress: String { "waiting for the PEER line" }

    mutating func advance(_ transport: any Transport, scratch: UnsafeMutableRawBufferPointer) throws(TransportError) -> Step {
        let buffer = UnsafeMutableRawBufferPointer(rebasing: scratch[..<64])
        switch try transport.readBeforeHandshake(into: buffer, peek: true) {
        case .wouldBlock(let interest): return .wouldBlock(interest)
        case .endOfStream: throw TransportError(.reset, "ended before the PEER line")
        case .bytes(let count):
            guard let newline = buffer[..<count].firstIndex(of: UInt8(ascii: "\n")) else { return .wouldBlock(.readable) }
            _ = try transport.readBeforeHandshake(into: UnsafeMutableRawBufferPointer(rebasing: buffer[...newline]), peek: false)
            client = String(decoding: buffer[5..<newline], as: UTF8.self)
            return .done
        }
    }
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
        connection.start()
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
        connection.start()
        #expect(transport.log == ["handshake", "read:one\n", "read:block", "write:block"])
        _ = try [UInt8(0)].withUnsafeBytes { try transport.peerSocket.write($0) }  // wake it
        try loop.runOnce(maximumWaitMilliseconds: 2000)
        #expect(Array(transport.log.prefix(6)) == ["handshake", "read:one\n", "read:block", "write:block", "write:4", "read:two\n"])
        #expect(transport.writtenText == "one\ntwo\n")
    }

    @Test("end of stream echoes the unfinished line, then ends our side and closes")
    func endOfStream() throws {
        let loop = try makeLoop()
        let transport = ScriptedTransport(reads: [.data("Hola\nMun"), .wouldBlock(.readable), .data("do"), .end])
        let connection = makeConnection(loop, transport)
        connection.start()
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
        connection.start()
        #expect(transport.log == ["handshake", "read:a\n", "read:bb\n", "read:ccc\n", "read:block", "write:9"])
        #expect(transport.writtenText == "a\nbb\nccc\n")
    }

    @Test("a short unfinished line joins the lines completing it in one write")
    func carriedTail() throws {
        let loop = try makeLoop()
        let transport = ScriptedTransport(reads: [.data("Ho"), .wouldBlock(.readable), .data("la\nMun"), .data("do\nx")])
        let connection = makeConnection(loop, transport)
        connection.start()
        #expect(transport.writtenText.isEmpty)
        _ = try [UInt8(0)].withUnsafeBytes { try transport.peerSocket.write($0) }  // wake it
        try loop.runOnce(maximumWaitMilliseconds: 2000)
        #expect(transport.log.filter { $0.hasPrefix("write") } == ["write:11"])
        #expect(transport.writtenText == "Hola\nMundo\n")
    }

    @Test("a long held line completed by new input goes out in the same pass, not at the next event")
    func longHeldLineIsFlushed() throws {
        let loop = try makeLoop()
        let long = String(repeating: "a", count: Connection.maximumCarriedTail + 1000)
        let transport = ScriptedTransport(reads: [.data(long)])
        let connection = makeConnection(loop, transport, application: LineEcho(maxLine: 65536))
        connection.start()
        #expect(transport.writtenText.isEmpty)
        // The rest of the line arrives later, with nothing behind it.
        transport.reads = [.data("b\n")]
        _ = try [UInt8(0)].withUnsafeBytes { try transport.peerSocket.write($0) }  // wake it
        try loop.runOnce(maximumWaitMilliseconds: 2000)
        #expect(transport.writtenText == long + "b\n")
    }

    @Test("an application that consumes input: its replies go out, its close is polite")
    func consumingApplication() throws {
        let loop = try makeLoop()
        let transport = ScriptedTransport(reads: [.data("x"), .wouldBlock(.readable), .data("quit\n"), .end])
        let connection = makeConnection(loop, transport, application: Greeter())
        connection.start()
        #expect(transport.writtenText == "hello test via scripted\nok\n")
        _ = try [UInt8(0)].withUnsafeBytes { try transport.peerSocket.write($0) }
        try loop.runOnce(maximumWaitMilliseconds: 2000)
        #expect(transport.writtenText == "hello test via scripted\nok\nbye\n")
        #expect(transport.shutdownCalled)
        #expect(connection.state == .closed)
    }

    @Test("a preamble reads the raw socket before the handshake, takes only its own bytes, and names the client")
    func preambleComesFirst() throws {
        let loop = try makeLoop()
        let transport = ScriptedTransport(reads: [.data("PEER 192.0.2.1\nhello\n")])
        let connection = makeConnection(loop, transport, preamble: HeaderLine())
        connection.start()
        #expect(transport.log == ["peek:PEER 192.0.2.1\nhello\n", "raw:PEER 192.0.2.1\n", "handshake",
                                  "read:hello\n", "read:block", "write:6"])
        #expect(transport.writtenText == "hello\n")
        #expect(connection.peer == "192.0.2.1")
    }

    @Test("a preamble that has not seen its end waits, then fails the connection on end of stream")
    func preambleWaits() throws {
        let loop = try makeLoop()
        let transport = ScriptedTransport(reads: [.wouldBlock(.readable), .end])
        let connection = makeConnection(loop, transport, preamble: HeaderLine())
        connection.start()
        #expect(connection.state == .handshaking)
        _ = try [UInt8(0)].withUnsafeBytes { try transport.peerSocket.write($0) }
        try loop.runOnce(maximumWaitMilliseconds: 2000)
        #expect(connection.state == .closed)
        #expect(!transport.log.contains("handshake"))
    }

    @Test("a read that needs writability waits for writability")
    func crossedRead() throws {
        let loop = try makeLoop()
        let transport = ScriptedTransport(reads: [.wouldBlock(.writable), .data("x\n")])
        let connection = makeConnection(loop, transport)
        connection.start()
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

    // MARK: - Endings and pacing (the misbehaving test profiles)

    @Test("echoThenClose without close_notify: the first line goes back, then the socket closes with no shutdown")
    func oneLineThenHangUp() throws {
        let loop = try makeLoop()
        let transport = ScriptedTransport(reads: [.data("one\ntw"), .data("o\n")])
        let connection = makeConnection(loop, transport, application: OneLineThenHangUp(maxLine: 1024))
        connection.start()
        #expect(transport.writtenText == "one\n")
        #expect(!transport.shutdownCalled && !transport.resetRequested)
        #expect(connection.state == .closed)
    }

    @Test("a line split across reads is echoed whole before the hang-up")
    func hangUpAfterASplitLine() throws {
        let loop = try makeLoop()
        let transport = ScriptedTransport(reads: [.data("on"), .wouldBlock(.readable), .data("e\nrest")])
        let connection = makeConnection(loop, transport, application: OneLineThenHangUp(maxLine: 1024))
        connection.start()
        _ = try [UInt8(0)].withUnsafeBytes { try transport.peerSocket.write($0) }
        try loop.runOnce(maximumWaitMilliseconds: 2000)
        #expect(transport.writtenText == "one\n")
        #expect(connection.state == .closed)
    }

    @Test("a reset after the handshake: nothing is written, the close is a RST")
    func resetAfterHandshake() throws {
        let loop = try makeLoop()
        let transport = ScriptedTransport(reads: [.data("ignored\n")])
        let connection = makeConnection(loop, transport, application: ResetAfterHandshake())
        connection.start()
        #expect(transport.written.isEmpty)
        #expect(transport.resetRequested && !transport.shutdownCalled)
        #expect(connection.state == .closed)
    }

    @Test("a paced connection writes one byte per interval, waiting on its timer alone, and reads nothing meanwhile")
    func pacedEcho() throws {
        let loop = try makeLoop()
        let transport = ScriptedTransport(reads: [.data("abc\n"), .wouldBlock(.readable), .data("later\n")])
        let connection = makeConnection(loop, transport, pace: 5_000_000)
        connection.start()
        var passes = 0
        while transport.written.count < 4 && passes < 200 {
            try loop.runOnce(maximumWaitMilliseconds: 1000)
            passes += 1
        }
        #expect(transport.writtenText.hasPrefix("abc\n"))
        let writes = transport.log.filter { $0.hasPrefix("write:") }
        #expect(writes.prefix(4).allSatisfy { $0 == "write:1" }, "\(writes)")
        // Nothing more is read until the paced output is all out.
        let fourthWrite = transport.log.indices.filter { transport.log[$0] == "write:1" }.dropFirst(3).first ?? Int.max
        #expect((transport.log.firstIndex(of: "read:later\n") ?? Int.max) > fourthWrite, "\(transport.log)")
        // Each pass slept until the next byte's time: a handful of passes, not a spin.
        #expect(passes <= 8, "\(passes) loop passes for 4 paced bytes")
        connection.abort(reason: "test over")
    }
}
