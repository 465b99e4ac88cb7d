// A failed system call: which call (and on what), and the errno it set.
#if canImport(Glibc)
import Glibc
#endif

/// A system call that failed with `errno`. Its description is the one line a person reads.
public struct SystemCallError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The call and, where it helps, its subject: `"bind 127.0.0.1:8443"`, `"accept4"`.
    public let call: String
    public let errno: CInt

    public init(call: String, errno: CInt) {
        self.call = call
        self.errno = errno
    }

    /// `strerror(errno)`, e.g. "Address already in use".
    public var reason: String { String(cString: strerror(errno)) }

    public var description: String { "\(call): \(reason)" }

    /// The peer went away under us: not worth more than a one-line close reason.
    public var isConnectionReset: Bool {
        errno == ECONNRESET || errno == EPIPE || errno == ETIMEDOUT
    }
}
