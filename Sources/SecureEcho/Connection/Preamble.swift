// The optional stage between accept and handshake: bytes a peer sends on the raw socket
// before the transport's own protocol begins. A PROXY protocol header, which a load balancer
// puts in front of its client's bytes, is what this is for.

import SecureEchoSystem

/// Reads its bytes through `Transport.readBeforeHandshake` and never past its own end: what
/// follows belongs to the handshake. A reader that cannot tell its length up front peeks,
/// then takes exactly its own bytes. It runs within the handshake timeout.
protocol Preamble {
    /// Reads what has arrived. `.done` once complete; `.wouldBlock` to wait for more; throws
    /// to close the connection with the error as its reason.
    /// `scratch` is the loop's read buffer, free to use during the call.
    mutating func advance(_ transport: any Transport, scratch: UnsafeMutableRawBufferPointer) throws(TransportError) -> Step
    /// The client the preamble names (PROXY's source address), which then replaces the
    /// socket's peer wherever the connection names its peer.
    var client: String? { get }
    /// How far it got, for a timeout's log line ("preamble: 3 of 16 bytes").
    var progress: String { get }
}

/// Makes each new connection's preamble.
typealias PreambleFactory = () -> any Preamble
