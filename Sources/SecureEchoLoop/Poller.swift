// The seam between the event loop and the kernel's readiness API.
// Backends (EpollPoller, PollPoller, IOUringPoller) translate their native flags into
// `Interest` and `PollEvent` at their edge; nothing above them sees EPOLL*/POLL*.
import SecureEchoSystem

/// One readiness report. Hang-ups and errors are reported as both readable and
/// writable, so the handler discovers them through its own read or write call.
public struct PollEvent: Sendable {
    public var fd: CInt
    /// The registration token given at `register`: the loop drops events whose
    /// token no longer matches, which protects a reused fd from a stale event.
    public var token: UInt32
    public var ready: Interest
}

public enum PollerKind: String, CaseIterable, Sendable {
    case epoll
    case poll
    case ioUring = "io_uring"
}

/// A readiness multiplexer. Level-triggered: an fd stays ready until its condition is consumed.
public protocol Poller: AnyObject {
    var kind: PollerKind { get }
    /// The poller receives and sends for the sockets registered with a `CompletedReceive` and
    /// a `QueuedSend` (io_uring with provided buffers): it reports them readable once bytes are
    /// in user space, and writable once what was queued has been sent.
    var doesSocketIO: Bool { get }
    /// `receive`, `send`: where the poller puts what it receives for this socket and where it
    /// finds what to send, when it does socket I/O; nil for descriptors read and written by
    /// system calls (listeners, eventfds).
    func register(fd: CInt, token: UInt32, interest: Interest, receive: CompletedReceive?, send: QueuedSend?) throws(SystemCallError)
    /// A listening socket whose clients the poller accepts into `accepts` (io_uring), reporting
    /// it readable once some are there; others wait for it to be readable.
    func register(listener fd: CInt, token: UInt32, interest: Interest, accepts: CompletedAccept) throws(SystemCallError)
    func modify(fd: CInt, token: UInt32, interest: Interest) throws(SystemCallError)
    func deregister(fd: CInt) throws(SystemCallError)
    /// Blocks until at least one event or `timeoutMilliseconds` (-1: forever, 0: don't block).
    /// Replaces the contents of `events`; an EINTR wake-up returns no events.
    func wait(timeoutMilliseconds: CInt, into events: inout [PollEvent]) throws(SystemCallError)
}

extension Poller {
    public var doesSocketIO: Bool { false }

    public func register(fd: CInt, token: UInt32, interest: Interest) throws(SystemCallError) {
        try register(fd: fd, token: token, interest: interest, receive: nil, send: nil)
    }

    public func register(listener fd: CInt, token: UInt32, interest: Interest, accepts: CompletedAccept) throws(SystemCallError) {
        try register(fd: fd, token: token, interest: interest, receive: nil, send: nil)
    }
}

public func makePoller(_ kind: PollerKind) throws(SystemCallError) -> any Poller {
    switch kind {
    case .epoll:
        #if os(Linux)
        return try EpollPoller()
        #else
        return PollPoller()
        #endif
    case .poll:
        return PollPoller()
    case .ioUring:
        #if os(Linux)
        return try IOUringPoller()
        #else
        return PollPoller()
        #endif
    }
}
