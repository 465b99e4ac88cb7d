// Process-wide signal dispositions the server depends on.
#if canImport(Glibc)
import CSystem
import Glibc
#endif

public enum Signals {
    /// Every socket write here passes MSG_NOSIGNAL (Socket, and the TLS socket BIO through
    /// DescriptorIO); ignoring SIGPIPE as well covers writes to pipes, such as a closed
    /// stderr, which would otherwise kill the whole process.
    public static func ignoreBrokenPipe() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// A server inherits its parent's blocked-signal mask (runtimes that route signals to one
    /// thread block them in the others). With SIGTERM blocked it could never be stopped, so
    /// start from an empty mask.
    public static func unblockAll() {
        var none = sigset_t()
        sigemptyset(&none)
        sigprocmask(SIG_SETMASK, &none, nil)
    }

    /// A non-blocking signalfd that reports `signals`, which are blocked from normal delivery
    /// so that they arrive only through it: the loop handles them as ordinary readable events,
    /// and no work ever runs inside a signal handler. Call before starting other threads.
    package static func makeSignalDescriptor(_ signals: [CInt]) throws(SystemCallError) -> Socket {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        try syscall("sigprocmask", { sigprocmask(SIG_BLOCK, &set, nil) })
        let fd = try syscall("signalfd", { signalfd(-1, &set, CInt(SFD_NONBLOCK) | CInt(SFD_CLOEXEC)) })
        return Socket(takingOwnershipOf: fd)
    }

    /// The next pending signal number from a signalfd, or nil when none is pending.
    package static func readSignal(from descriptor: Socket) -> CInt? {
        var info = signalfd_siginfo()
        let size = MemoryLayout<signalfd_siginfo>.size
        let count = withUnsafeMutableBytes(of: &info) { read(descriptor.descriptor, $0.baseAddress, size) }
        return count == size ? CInt(info.ssi_signo) : nil
    }
}
