// The seam between the event loop and the kernel's readiness API.
// Backends (EpollPoller, PollPoller) translate their native flags into
// `Interest` and `PollEvent` at their edge; nothing above them sees EPOLL*/POLL*.

/// What a registration waits for.
public struct Interest: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let readable = Interest(rawValue: 1 << 0)
    public static let writable = Interest(rawValue: 1 << 1)

    public var description: String {
        switch self {
        case []: return "none"
        case .readable: return "read"
        case .writable: return "write"
        default: return "read+write"
        }
    }
}

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
}

/// A readiness multiplexer. Level-triggered: an fd stays ready until its condition is consumed.
public protocol Poller: AnyObject {
    var kind: PollerKind { get }
    func register(fd: CInt, token: UInt32, interest: Interest) throws(SystemCallError)
    func modify(fd: CInt, token: UInt32, interest: Interest) throws(SystemCallError)
    func deregister(fd: CInt) throws(SystemCallError)
    /// Blocks until at least one event or `timeoutMilliseconds` (-1: forever, 0: don't block).
    /// Replaces the contents of `events`; an EINTR wake-up returns no events.
    func wait(timeoutMilliseconds: CInt, into events: inout [PollEvent]) throws(SystemCallError)
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
    }
}
