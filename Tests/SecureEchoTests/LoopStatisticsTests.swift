import Testing
@testable import SecureEchoLoop

@Suite("LoopStatistics")
struct LoopStatisticsTests {
    @Test("each pass lands in the first bucket that holds it; buckets are cumulative; longer than every bound counts only in wake-ups")
    func buckets() {
        let statistics = LoopStatistics()
        statistics.passed(events: 3, nanoseconds: 0)
        statistics.passed(events: 1, nanoseconds: 50_000)       // on the first bound: inside it
        statistics.passed(events: 0, nanoseconds: 50_001)
        statistics.passed(events: 2, nanoseconds: 3_000_000)
        statistics.passed(events: 1, nanoseconds: 2_000_000_000)
        #expect(statistics.wakeups == 5)
        #expect(statistics.events == 7)
        #expect(statistics.busyNanoseconds == 2_003_100_001)
        #expect(LoopStatistics.passBucketBounds.count == statistics.cumulativePassCounts.count)
        #expect(statistics.cumulativePassCounts == [2, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4])
    }

    @Test("an event loop counts its own passes and the events each one brought")
    func loopCounts() throws {
        let loop = EventLoop(poller: try EpollPoller(), logger: .init(label: "test"))
        for _ in 0..<4 { try loop.runOnce(maximumWaitMilliseconds: 0) }
        #expect(loop.statistics.wakeups == 4)
        #expect(loop.statistics.events == 0)
        #expect(loop.statistics.cumulativePassCounts.last == 4)
    }
}
