// The one funnel every syscall goes through: EINTR is retried, EAGAIN is a
// value rather than an error, anything else becomes a SystemCallError.
#if canImport(Glibc)
import Glibc
#endif

/// What a non-blocking system call did.
package enum SyscallResult<T> {
    case done(T)
    case wouldBlock
}

/// Runs `body`, retrying on EINTR. EAGAIN/EWOULDBLOCK become `.wouldBlock`.
/// `errno` is read immediately after the call, before any other work can clobber it.
@inline(__always)
package func nonBlockingSyscall<T: FixedWidthInteger>(
    _ call: @autoclosure () -> String,
    _ body: () -> T
) throws(SystemCallError) -> SyscallResult<T> {
    while true {
        let rc = body()
        if rc != -1 { return .done(rc) }
        let err = errno
        switch err {
        case EINTR:
            continue
        case EAGAIN, EWOULDBLOCK:
            return .wouldBlock
        default:
            // EBADF/EFAULT mean we passed a closed fd or a bad pointer: a bug, not a runtime condition.
            precondition(err != EBADF && err != EFAULT, "unacceptable errno \(err) from \(call())")
            throw SystemCallError(call: call(), errno: err)
        }
    }
}

/// Runs a call that never returns EAGAIN (bind, listen, setsockopt, epoll_ctl…), retrying on EINTR.
@inline(__always)
@discardableResult
package func syscall<T: FixedWidthInteger>(
    _ call: @autoclosure () -> String,
    _ body: () -> T
) throws(SystemCallError) -> T {
    while true {
        let rc = body()
        if rc != -1 { return rc }
        let err = errno
        if err == EINTR { continue }
        throw SystemCallError(call: call(), errno: err)
    }
}
