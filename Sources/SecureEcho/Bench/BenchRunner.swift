// Runs one load-generator workload against a server and sums up what it measured.
import Logging

public enum BenchMode: String, CaseIterable, Sendable {
    /// N connections, each sending a line and waiting for its echo: msg/s and latency.
    case pingpong
    /// New full TLS handshakes, K in flight: handshakes/s.
    case handshake
    /// One connection, bulk bytes both ways, every byte verified: MB/s.
    case flood
}

public struct BenchOptions: Sendable {
    public var host = "127.0.0.1"
    public var port: UInt16 = 8443
    public var tls = true
    public var mode = BenchMode.pingpong
    /// Ping-pong connections, or handshakes in flight.
    public var connections = 1
    /// Ping-pong line size in bytes, newline included.
    public var size = 64
    /// Seconds for ping-pong and handshake runs.
    public var duration = 5.0
    /// Flood bytes.
    public var bytes = 64 << 20
    public init() {}
}

public struct BenchResult: Sendable, Codable {
    public var mode: String
    public var transport: String
    public var connections: Int
    public var seconds: Double
    public var messages: Int
    public var messagesPerSecond: Double
    public var megabytesPerSecond: Double
    public var handshakesPerSecond: Double
    public var latencyP50Microseconds: Double?
    public var latencyP99Microseconds: Double?
    public var latencyMaxMicroseconds: Double?
    public var mismatches: Int
    public var failures: [String]
}

public enum BenchRunner {
    public static func run(_ options: BenchOptions) throws -> BenchResult {
        let loop = EventLoop(poller: try makePoller(.epoll), logger: Logger(label: "bench"))
        let address = try SocketAddress.resolve(host: options.host, port: options.port)
        let context = options.tls ? try TLSContext.client() : nil
        let tally = BenchTally()
        var active: [ObjectIdentifier: BenchClient] = [:]
        let start = MonotonicClock.now()
        let duration = UInt64(options.duration * 1e9)
        var stopping = false

        func launch(_ workload: BenchWorkload) throws {
            let client = try BenchClient(loop: loop, address: address, context: context, workload: workload, tally: tally) { done in
                active[ObjectIdentifier(done)] = nil
            }
            active[ObjectIdentifier(client)] = client
        }

        let workload: BenchWorkload
        let count: Int
        switch options.mode {
        case .pingpong:
            var message = (0..<options.size).map { UInt8(truncatingIfNeeded: 97 + $0 % 26) }
            message[message.count - 1] = UInt8(ascii: "\n")
            workload = .pingpong(message: message)
            count = options.connections
        case .handshake:
            workload = .handshake
            count = options.connections
        case .flood:
            let lines = (options.bytes + BenchClient.floodLine - 1) / BenchClient.floodLine
            workload = .flood(total: lines * BenchClient.floodLine)
            count = 1
        }
        for _ in 0..<count { try launch(workload) }

        while !active.isEmpty {
            try loop.runOnce(maximumWaitMilliseconds: 50)
            let elapsed = MonotonicClock.now() - start
            if options.mode == .handshake && !stopping {
                while active.count < count && elapsed < duration { try launch(workload) }
            }
            if elapsed >= duration && options.mode != .flood && !stopping {
                stopping = true
                for client in active.values { client.stopRequested = true }
                if options.mode == .handshake { break }
            }
            if elapsed >= duration + 10_000_000_000 { tally.failures.append("\(active.count) connections did not finish"); break }
            if !tally.failures.isEmpty && options.mode == .flood { break }
        }
        let seconds = Double(MonotonicClock.now() - start) / 1e9
        // Clients still open (handshakes in flight at the deadline) hold callbacks into `active`.
        for client in active.values { client.cancel() }
        active.removeAll()
        let sorted = tally.latencies.sorted()
        func percentile(_ p: Double) -> Double? {
            sorted.isEmpty ? nil : Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1000
        }
        return BenchResult(
            mode: options.mode.rawValue, transport: options.tls ? "tls" : "plain", connections: count,
            seconds: seconds, messages: tally.messages,
            messagesPerSecond: Double(tally.messages) / seconds,
            megabytesPerSecond: Double(tally.bytes) / seconds / 1e6,
            handshakesPerSecond: options.mode == .handshake ? Double(tally.handshakes) / seconds : 0,
            latencyP50Microseconds: percentile(0.5), latencyP99Microseconds: percentile(0.99),
            latencyMaxMicroseconds: sorted.last.map { Double($0) / 1000 },
            mismatches: tally.mismatches, failures: Array(tally.failures.prefix(5)))
    }
}
