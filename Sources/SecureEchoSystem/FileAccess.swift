// Questions about files asked before they are handed to a library that reports failures
// less clearly (OpenSSL says "no such file" without the name).
#if canImport(Glibc)
import Glibc
#endif

package enum FileAccess {
    /// nil when `path` can be opened for reading; otherwise strerror's reason.
    package static func unreadableReason(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        _ = close(fd)
        return nil
    }
}
