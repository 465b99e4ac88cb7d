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

    /// The whole of a small file (at most `limit` bytes, else `.tooLarge`), for secrets that a
    /// library wants as bytes. The caller should wipe what it gets once it has used it.
    package static func readSmall(_ path: String, limit: Int) -> Result<[UInt8], SmallFileError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(.unreadable(String(cString: strerror(errno)))) }
        defer { _ = close(fd) }
        var bytes = [UInt8](repeating: 0, count: limit + 1)
        var filled = 0
        while filled < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress.map { $0 + filled }, $0.count - filled) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return .failure(.unreadable(String(cString: strerror(errno)))) }
            if n == 0 { break }
            filled += n
        }
        guard filled <= limit else { return .failure(.tooLarge) }
        return .success(Array(bytes[..<filled]))
    }
}

package enum SmallFileError: Error {
    case unreadable(String)
    case tooLarge
}
