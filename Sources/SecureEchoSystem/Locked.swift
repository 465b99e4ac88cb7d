// A value behind a pthread mutex, for the few values threads share. Not Synchronization's
// Mutex: on Linux it locks with futexes inside a library ThreadSanitizer has not instrumented,
// so every contended withLock reads as a race (Swift 6.3.1: a two-thread counter under Mutex is
// exact and reported on every run). pthread_mutex_lock is intercepted, so races stay visible.
#if canImport(Glibc)
import Glibc
#endif

package final class Locked<Value: Sendable>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    package init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    package func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
