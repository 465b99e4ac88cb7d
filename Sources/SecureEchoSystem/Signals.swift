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

    /// The signals the server reads from its signalfd.
    public static let serverSignals: [CInt] = [SIGTERM, SIGINT, SIGHUP]

    /// Blocks exactly `serverSignals` in the calling thread, and so in every thread it starts
    /// afterwards. Call first in `main`, before any thread exists: a signal mask is per
    /// thread, and a thread that does not block SIGTERM takes its default action, which ends
    /// the whole process before the server can finish its connections. (The mask is set,
    /// not added to: a server inherits its parent's, and with SIGTERM blocked by a parent that
    /// routes signals elsewhere, nothing else would ever be unblocked either.)
    public static func routeToServer() {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in serverSignals { sigaddset(&set, signal) }
        pthread_sigmask(SIG_SETMASK, &set, nil)
    }

    /// Whether the calling thread blocks every one of `signals`.
    package static func areBlocked(_ signals: [CInt]) -> Bool {
        var current = sigset_t()
        sigemptyset(&current)
        pthread_sigmask(SIG_BLOCK, nil, &current)
        return signals.allSatisfy { sigismember(&current, $0) == 1 }
    }

    /// A non-blocking signalfd that reports `signals`, which the process must already block
    /// in every thread (`routeToServer`) so that they arrive only through it: the loop handles
    /// them as ordinary readable events, and no work ever runs inside a signal handler.
    package static func makeSignalDescriptor(_ signals: [CInt]) throws(SystemCallError) -> Socket {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
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
