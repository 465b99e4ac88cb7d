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

extension FileAccess {
    /// Replaces `path` with `contents` atomically: written to a temporary file beside it with
    /// `mode`, flushed, then renamed over it, so a reader sees the old file or the new one,
    /// never half of one. The error names the path.
    package static func replace(_ path: String, with contents: String, mode: mode_t) throws(SystemCallError) {
        let temporary = path + ".tmp-\(getpid())"
        let fd = try syscall("open \(temporary)", { open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) })
        var bytes = Array(contents.utf8)
        var written = 0
        do throws(SystemCallError) {
            // The mode given to open is masked by the umask; a key must end up exactly 0600.
            try syscall("fchmod \(temporary)", { fchmod(fd, mode) })
            while written < bytes.count {
                let count = try syscall("write \(temporary)", { bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress.map { $0 + written }, $0.count - written) } })
                written += count
            }
            try syscall("fsync \(temporary)", { fsync(fd) })
        } catch {
            _ = close(fd)
            _ = unlink(temporary)
            throw error
        }
        _ = close(fd)
        do {
            try syscall("rename \(temporary) to \(path)", { rename(temporary, path) })
        } catch {
            _ = unlink(temporary)
            throw error
        }
        bytes.withUnsafeMutableBytes { raw in if let base = raw.baseAddress { _ = memset(base, 0, raw.count) } }
    }
}

package enum SmallFileError: Error {
    case unreadable(String)
    case tooLarge
}
