// The profiles that misbehave on purpose, each as a piece on the connection's seam: a
// preamble that swallows the ClientHello and never answers, and applications that end a
// connection the way a crashed or careless server would.
import SecureEchoSystem

/// handshake-stall: reads the ClientHello (and whatever follows) and never answers; the
/// handshake timeout closes the connection, as for any client that stalls.
struct StallingPreamble: Preamble {
    private var swallowed = 0

    mutating func advance(_ transport: any Transport, scratch: UnsafeMutableRawBufferPointer) throws(TransportError) -> Step {
        while true {
            switch try transport.readBeforeHandshake(into: scratch, peek: false) {
            case .bytes(let count): swallowed += count
            case .wouldBlock(let interest): return .wouldBlock(interest)
            case .endOfStream: throw TransportError(.peerStoppedReading, "the client gave up after \(swallowed) bytes, unanswered on purpose")
            }
        }
    }

    var client: String? { nil }
    var progress: String { "stalled on purpose after \(swallowed) bytes" }
}

/// no-close-notify: echoes the first line, then closes the socket without close_notify.
struct OneLineThenHangUp: Application {
    let maxLine: Int
    /// Bytes of the first line seen so far (held by the connection).
    private var held = 0

    init(maxLine: Int) { self.maxLine = maxLine }

    func start(_ session: SessionInfo) -> Reply { .echo(0) }

    mutating func receive(_ fresh: UnsafeRawBufferPointer) -> Reply {
        if let newline = fresh.firstIndex(of: 0x0A) {
            return .echoThenClose(held + newline + 1, reason: "one line echoed, closed without close_notify (profile)",
                                  ending: .withoutCloseNotify)
        }
        held += fresh.count
        if held >= maxLine {
            return .echoThenClose(held, reason: "one line echoed, closed without close_notify (profile)", ending: .withoutCloseNotify)
        }
        return .echo(0)
    }

    func finish() -> Reply { .echo(held) }
}

/// reset-after-handshake: completes the handshake, then resets the connection.
struct ResetAfterHandshake: Application {
    func start(_ session: SessionInfo) -> Reply {
        .echoThenClose(0, reason: "reset after the handshake (profile)", ending: .reset)
    }

    func receive(_ fresh: UnsafeRawBufferPointer) -> Reply { .echo(0) }
    func finish() -> Reply { .echo(0) }
}
