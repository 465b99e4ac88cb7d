// Process-wide signal dispositions the server depends on.
#if canImport(Glibc)
import Glibc
#endif

public enum Signals {
    /// OpenSSL's socket BIO writes without MSG_NOSIGNAL, so a peer that resets
    /// mid-write would otherwise kill the whole process with SIGPIPE.
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
}
