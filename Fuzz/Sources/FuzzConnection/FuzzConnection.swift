// libFuzzer target: the connection state machine fed arbitrary sequences of transport outcomes
// (bytes, would-block in either direction, end of stream, errors) for handshake, read, write,
// under the echo modes and the abruptly ending test profiles. Checks: the echo is always an
// exact prefix of the input; after end of stream and a clean close, an echo mode has echoed all
// of it; a write that would block is retried with the same bytes before any other I/O
// (OpenSSL's rule); a close other than a reset or a failure never drops bytes still queued for
// the kernel (io_uring's queued sends); the state machine never traps.
import Glibc
import Logging
@testable import SecureEcho
@testable import SecureEchoLoop
@testable import SecureEchoSystem
@testable import SecureEchoTLS

/// Pops outcomes from the fuzz input; once it runs dry every call ends the stream cleanly.
private final class FuzzTransport: Transport {
    private var script: [UInt8]
    private var cursor = 0
    private let socket: Socket
    let peer: Socket
    private(set) var input: [UInt8] = []
    private(set) var echoed: [UInt8] = []
    private(set) var failed = false
    private(set) var ended = false
    private var blockedWrite: [UInt8]?
    /// How many more times `hasUnsentOutput` answers yes: bytes written but still queued for the
    /// kernel, as with io_uring's sends, drained a little each time the connection looks.
    private var unsentPolls = 0
    private var resetRequested = false
    /// The harness itself abandons the connection (step limit).
    var abandoned = false

    init(script: [UInt8]) {
        self.script = script
        var fds: [CInt] = [-1, -1]
        precondition(socketpair(AF_UNIX, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue), 0, &fds) == 0)
        socket = Socket(takingOwnershipOf: fds[0])
        peer = Socket(takingOwnershipOf: fds[1])
    }

    var exhausted: Bool { cursor >= script.count }
    private func next() -> UInt8? {
        guard cursor < script.count else { return nil }
        defer { cursor += 1 }
        return script[cursor]
    }

    var name: String { "fuzz" }
    var session: NegotiatedSession? { nil }
    var handshakeProgress: String? { nil }
    var clientHello: Result<ClientHello, ClientHelloError>? { nil }
    func releaseClientHello() {}
    var descriptor: CInt { socket.descriptor }
    var hasBufferedInput: Bool { (script.count - cursor) % 3 == 1 }
    // The protocol's defaults are `package`, which a private type in another package cannot
    // take as its witnesses: the poller neither receives nor sends for this transport.
    var completedReceive: CompletedReceive? { nil }
    var queuedSend: QueuedSend? { nil }
    var hasUnsentOutput: Bool {
        guard unsentPolls > 0 else { return false }
        unsentPolls -= 1
        return true
    }

    private func noOtherIOWhileWriteBlocked(_ operation: String) {
        precondition(blockedWrite == nil, "\(operation) while a blocked write awaits its retry")
    }

    func handshake() throws(TransportError) -> Step {
        noOtherIOWhileWriteBlocked("handshake")
        switch next().map({ $0 % 8 }) {
        case 0: return .wouldBlock(.readable)
        case 1: return .wouldBlock(.writable)
        case 2: failed = true; throw TransportError(SystemCallError(call: "handshake", errno: ECONNRESET))
        default: return .done
        }
    }

    func readBeforeHandshake(into buffer: UnsafeMutableRawBufferPointer, peek: Bool) throws(TransportError) -> IOResult {
        preconditionFailure("the fuzzed connection has no preamble")
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> IOResult {
        noOtherIOWhileWriteBlocked("read")
        guard let op = next() else { ended = true; return .endOfStream }
        switch op % 8 {
        case 0: return .wouldBlock(.readable)
        case 1: return .wouldBlock(.writable)
        case 2: ended = true; return .endOfStream
        case 3 where op > 250: failed = true; throw TransportError(SystemCallError(call: "read", errno: ECONNRESET))
        default:
            let count = min(Int(op / 8) + 1, buffer.count, script.count - cursor)
            guard count > 0 else { ended = true; return .endOfStream }
            let bytes = script[cursor..<(cursor + count)]
            cursor += count
            buffer.copyBytes(from: bytes)
            input += bytes
            return .bytes(count)
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(TransportError) -> IOResult {
        precondition(!bytes.isEmpty, "zero-length write")
        if let blocked = blockedWrite {
            precondition(bytes.count >= blocked.count && Array(bytes.prefix(blocked.count)) == blocked,
                         "a blocked write must be retried with the same bytes")
        }
        let op = next() ?? 7
        switch op % 8 {
        case 0: blockedWrite = Array(bytes); return .wouldBlock(.writable)
        case 1: blockedWrite = Array(bytes); return .wouldBlock(.readable)
        case 2 where op > 240: failed = true; throw TransportError(SystemCallError(call: "write", errno: EPIPE))
        default:
            let count = max(1, min(bytes.count, Int(op) * 97 % (bytes.count + 1)))
            echoed += bytes.prefix(count)
            blockedWrite = nil
            unsentPolls = Int(op % 3)
            return .bytes(count)
        }
    }

    func shutdownOutput() throws(TransportError) -> Step {
        noOtherIOWhileWriteBlocked("shutdown")
        // As the real transports do: the FIN or close_notify goes after the queued bytes.
        if hasUnsentOutput { return .wouldBlock(.writable) }
        switch next().map({ $0 % 4 }) {
        case 0: return .wouldBlock(.writable)
        default: return .done
        }
    }

    func close() {
        precondition(unsentPolls == 0 || failed || resetRequested || abandoned,
                     "closed with bytes still queued for the kernel")
        socket.close()
    }

    func resetOnClose() { resetRequested = true }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConnection(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let maxLine = Int(bytes[0] % 32) + 1
    // The two echo modes, and the two test profiles that end abruptly (the paths that must
    // still deliver queued bytes, or may drop them with a reset).
    let application: any Application
    let echoesEverything: Bool
    switch bytes[1] % 4 {
    case 0: application = LineEcho(maxLine: maxLine); echoesEverything = true
    case 1: application = StreamEcho(); echoesEverything = true
    case 2: application = OneLineThenHangUp(maxLine: maxLine); echoesEverything = false
    default: application = ResetAfterHandshake(); echoesEverything = false
    }
    let loop = EventLoop(poller: PollPoller(), logger: Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() }))
    let transport = FuzzTransport(script: Array(bytes[2...]))
    let policy = ConnectionPolicy(handshakeTimeout: 1_000_000_000, idleTimeout: 1_000_000_000)
    let connection = Connection(loop: loop, transport: transport, peer: "fuzz", policy: policy,
                                application: application)
    connection.start()

    var steps = 0
    while connection.state != .closed && steps < 10_000 {
        connection.handle([.readable, .writable])
        steps += 1
        precondition(transport.echoed.count <= transport.input.count, "echoed more than was received")
        precondition(Array(transport.input.prefix(transport.echoed.count)) == transport.echoed, "echo differs from input")
    }
    precondition(connection.state == .closed || !transport.exhausted || steps == 10_000, "stuck with a dry script")
    if echoesEverything && connection.state == .closed && transport.ended && !transport.failed {
        precondition(transport.echoed == transport.input, "a clean end of stream must echo everything")
    }
    if connection.state != .closed {
        transport.abandoned = true
        connection.abort(reason: "fuzz done")
    }
    return 0
}
