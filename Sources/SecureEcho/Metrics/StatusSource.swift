// What the metrics port answers with: the loops' counters, summed at each request, and the
// status page, fixed once every listener is bound.

final class StatusSource: Sendable {
    private let loops: [LoopCounters]
    private let logLinesDropped: @Sendable () -> Int
    let page: String

    init(loops: [LoopCounters], logLinesDropped: @escaping @Sendable () -> Int, page: StatusPage) {
        self.loops = loops
        self.logLinesDropped = logLinesDropped
        self.page = page.html
    }

    func metrics() -> String {
        MetricsText.render(loops, logLinesDropped: logLinesDropped())
    }
}
