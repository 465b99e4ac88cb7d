// An eventfd: the one way another thread wakes an event loop that sleeps in its poller.
#if canImport(Glibc)
import CSystem
import Glibc
#endif

package final class EventFD: Sendable {
    package let descriptor: CInt

    package init() throws(SystemCallError) {
        descriptor = try syscall("eventfd", { eventfd(0, CInt(EFD_NONBLOCK) | CInt(EFD_CLOEXEC)) })
    }

    deinit { close(descriptor) }

    /// Makes the descriptor readable; safe from any thread, any number of times.
    package func signal() {
        var one: UInt64 = 1
        _ = write(descriptor, &one, MemoryLayout<UInt64>.size)
    }

    /// Consumes every signal so far (the counter resets to zero).
    package func drain() {
        var count: UInt64 = 0
        _ = read(descriptor, &count, MemoryLayout<UInt64>.size)
    }
}
