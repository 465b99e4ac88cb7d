// An append-only file only its owner may read, for secrets such as a TLS key log.
#if canImport(Glibc)
import Glibc
#endif

package final class SecretFile: @unchecked Sendable {
    // The descriptor never changes after init; O_APPEND makes each write(2) atomic, so
    // threads may append concurrently without a lock.
    private let descriptor: CInt

    /// Opens (or creates) `path` for appending and makes it mode 600 even if it existed with
    /// wider permissions; throws, naming the call, when either fails.
    package init(path: String) throws(SystemCallError) {
        let fd = try syscall("open \(path)", { open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600) })
        do {
            try syscall("fchmod \(path) 600", { fchmod(fd, 0o600) })
        } catch {
            _ = close(fd)
            throw error
        }
        descriptor = fd
    }

    deinit { _ = close(descriptor) }

    /// Appends `count` bytes from `bytes` and a newline in one write(2), so that lines written
    /// by several threads never interleave. Best effort: a full disk loses the line.
    package func appendLine(_ bytes: UnsafePointer<CChar>, count: Int) {
        var record = [UInt8](repeating: UInt8(ascii: "\n"), count: count + 1)
        record.withUnsafeMutableBytes { $0.baseAddress?.copyMemory(from: bytes, byteCount: count) }
        _ = record.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }
}
