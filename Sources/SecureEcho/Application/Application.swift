// The seam between a connection and the protocol it speaks once its transport is ready.
// Line echo and stream echo plug in here today; a handshake report or an HTTP responder is
// one more file that conforms to `Application`, not a branch inside `Connection`.
import SecureEchoTLS

/// What a connection runs after its handshake. An application does no I/O and keeps no
/// buffers of the connection's: it sees each arrival once, in order, and answers with a
/// `Reply`. The connection does the reading, writing, buffering, timeouts and closing, the
/// same way over TLS and plain TCP.
///
/// Applications are small value types, stored inline in their connection (no allocation per
/// connection) and called once per batch of reads, not per byte.
protocol Application {
    /// The transport is ready; nothing has been read yet. What goes out first.
    mutating func start(_ session: SessionInfo) -> Reply
    /// `fresh` arrived after all the input seen so far.
    mutating func receive(_ fresh: UnsafeRawBufferPointer) -> Reply
    /// The input is over: the peer ended its stream, or the server is closing the connection.
    mutating func finish() -> Reply
}

/// What an application does with the input it was shown.
enum Reply: Equatable {
    /// Input the connection keeps (echo's unfinished line), counting from the first byte not yet
    /// answered, then `fresh`: the first `count` bytes go back unchanged, the rest stay held.
    /// Echo is the input itself, so nothing is copied to answer it.
    case echo(Int)
    /// All input so far is consumed (anything held is dropped) and `bytes` go out. With a
    /// `closeReason`, the connection closes politely once they are sent.
    case send([UInt8], closeReason: String? = nil)

    /// Like `echo(count)`, then the connection closes once those bytes are sent, the way
    /// `ending` says, whatever else arrived (test profiles that misbehave on purpose).
    case echoThenClose(Int, reason: String, ending: Ending)

    /// Consumes the input and sends nothing.
    static let nothing = Reply.send([])
}

/// How a connection closed by its application ends its stream.
enum Ending: Equatable {
    /// close_notify (TLS) or FIN, then the peer's end of stream is awaited: the normal close.
    case polite
    /// The socket is closed without close_notify (a FIN only).
    case withoutCloseNotify
    /// The socket is closed with a RST (SO_LINGER 0).
    case reset
}

/// Who the peer is and what the transport settled on, for applications that answer with it.
struct SessionInfo {
    let peer: String
    let transport: any Transport
    /// "tls" or "plain".
    var transportName: String { transport.name }
    /// What the TLS handshake settled (read from the session on each use); nil for plain TCP.
    var tls: NegotiatedSession? { transport.session }
}

/// Makes each new connection's application.
typealias ApplicationFactory = () -> any Application
