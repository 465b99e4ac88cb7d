// Monotonic time in nanoseconds, for deadlines and durations (never wall-clock).
#if canImport(Glibc)
import Glibc
#endif

enum MonotonicClock {
    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
