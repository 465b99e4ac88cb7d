// What one loop pass costs, for /metrics: how often the loop woke, how many events each
// wake-up brought, and how long the loop was away from its poller. A long pass delays every
// connection on the loop, so the pass-length histogram is where a tail latency shows first.
// The loop's thread is the only writer (relaxed load + store, no locked instruction); a
// scrape on any thread reads them.
import Synchronization

package final class LoopStatistics: Sendable {
    /// Upper bounds of the pass-length buckets, in nanoseconds (50 µs … 1 s).
    package static let passBucketBounds: [UInt64] = [
        50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
        10_000_000, 25_000_000, 100_000_000, 1_000_000_000,
    ]

    private let wakeupCount = Atomic<Int>(0)
    private let eventCount = Atomic<Int>(0)
    private let passNanoseconds = Atomic<Int>(0)
    /// One count per bound, not cumulative (the scrape adds them up); a pass longer than
    /// every bound is only in `wakeups`.
    private let buckets = InlineArray<11, Atomic<Int>> { _ in Atomic<Int>(0) }

    package init() {
        precondition(buckets.count == Self.passBucketBounds.count)
    }

    /// One pass of the loop: `events` from the poller, `nanoseconds` from its return to the end
    /// of the pass. Only from the loop's thread.
    @inline(__always)
    package func passed(events: Int, nanoseconds: UInt64) {
        bump(wakeupCount, by: 1)
        bump(eventCount, by: events)
        bump(passNanoseconds, by: Int(truncatingIfNeeded: nanoseconds))
        // Most passes are short: the first bucket or two ends the scan.
        for index in Self.passBucketBounds.indices where nanoseconds <= Self.passBucketBounds[index] {
            bump(buckets[index], by: 1)
            return
        }
    }

    @inline(__always)
    private func bump(_ counter: borrowing Atomic<Int>, by n: Int) {
        counter.store(counter.load(ordering: .relaxed) &+ n, ordering: .relaxed)
    }

    /// Times the loop came back from its poller (with events, a timeout or a wake-up).
    package var wakeups: Int { wakeupCount.load(ordering: .relaxed) }
    /// Readiness events the poller handed over, summed over every wake-up.
    package var events: Int { eventCount.load(ordering: .relaxed) }
    /// Time spent outside the poller, summed: the loop's busy time.
    package var busyNanoseconds: Int { passNanoseconds.load(ordering: .relaxed) }
    /// Passes no longer than each of `passBucketBounds`, cumulative as Prometheus wants them.
    package var cumulativePassCounts: [Int] {
        var running = 0
        return Self.passBucketBounds.indices.map { index in
            running += buckets[index].load(ordering: .relaxed)
            return running
        }
    }
}
