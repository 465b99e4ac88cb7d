// What the last read and write of a socket said about its readiness, so the next call can be
// answered without the kernel. Shared by the plain transport and the TLS socket BIO.

/// A read that returned fewer bytes than asked for emptied the socket, and a write that took
/// fewer than offered filled its send buffer: the next call of that kind would only get
/// EAGAIN, so it answers "would block" at once (once). Only valid under a level-triggered
/// poller, which reports the socket again if bytes or space arrived in between; the saving is
/// the EAGAIN call that otherwise ends every echo.
package struct ReadinessMemo {
    // Inlinable: the TLS socket BIO and the plain transport, in other targets, ask on every call.
    @usableFromInline var readDrained = false
    @usableFromInline var writeFull = false

    @inlinable package init() {}

    /// True once after a short read: report "would block" instead of reading.
    @inlinable
    package mutating func skipsRead() -> Bool {
        defer { readDrained = false }
        return readDrained
    }

    @inlinable
    package mutating func read(_ count: Int, of requested: Int) {
        readDrained = count < requested
    }

    /// True once after a short write: report "would block" instead of writing.
    @inlinable
    package mutating func skipsWrite() -> Bool {
        defer { writeFull = false }
        return writeFull
    }

    @inlinable
    package mutating func wrote(_ count: Int, of offered: Int) {
        writeFull = count < offered
    }
}
