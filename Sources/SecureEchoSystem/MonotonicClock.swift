// Monotonic time in nanoseconds, for deadlines and durations (never wall-clock).
#if canImport(Glibc)
import Glibc
#endif

package enum MonotonicClock {
    /// CPU time the calling thread has used, in nanoseconds.
    package static func threadCPUNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    package static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
