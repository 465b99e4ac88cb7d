// One descriptor held in reserve, so a process whose table is full can still accept (and
// close) a waiting client instead of leaving it in the backlog.
#if canImport(Glibc)
import Glibc
#endif

package final class SpareDescriptor {
    private var descriptor: CInt = -1

    package init() {
        _ = acquire()
    }

    deinit { release() }

    package var isHeld: Bool { descriptor >= 0 }

    /// Opens /dev/null as the spare if none is held; false when the table is still full.
    @discardableResult
    package func acquire() -> Bool {
        if descriptor < 0 { descriptor = open("/dev/null", O_RDONLY | O_CLOEXEC) }
        return descriptor >= 0
    }

    /// Gives the spare back to the process, so the next descriptor call can use its number.
    package func release() {
        guard descriptor >= 0 else { return }
        _ = close(descriptor)
        descriptor = -1
    }
}
