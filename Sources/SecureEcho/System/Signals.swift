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
}
