// Runs one load-generator workload against a server and sums up what it measured.
import SecureEcho
import SecureEchoLoop
import SecureEchoSystem
import SecureEchoTLS
import Logging

public enum BenchMode: String, CaseIterable, Sendable {
    /// N connections, each sending a line and waiting for its echo: msg/s and latency.
    case pingpong
    /// New full TLS handshakes, K in flight: handshakes/s.
    case handshake
    /// One connection, bulk bytes both ways, every byte verified: MB/s.
    case flood
    /// N connections held open and idle for the duration: server memory per connection.
    case hold
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
    /// The server's process id: its CPU time and memory (with its children's) are reported.
    public var serverPID: Int32?
    /// Flood: write without reading until the server stops taking bytes, then read.
    public var noRead = false
    /// hold: handshakes in flight while the connections are opened.
    public var inFlight = 8
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
    public var latencyP999Microseconds: Double? = nil
    public var latencyMaxMicroseconds: Double?
    public var mismatches: Int
    public var failures: [String]
    /// Server CPU per operation (message, handshake, or echoed MB for flood), when its pid was given.
    public var serverCPUMicrosecondsPerOperation: Double?
    /// Server resident memory growth per held connection (hold), when its pid was given.
    public var serverKiBPerConnection: Double?
    /// hold: server CPU per connection opened (its full handshake included), when its pid was given.
    public var serverCPUMicrosecondsPerConnectionOpened: Double? = nil
    /// Flood --no-read: how far the server's memory grew at most, and how many bytes it took
    /// before it stopped reading.
    public var serverPeakGrowthKiB: Int?
    public var bytesAcceptedWithoutReading: Int?
}

/// A running workload's figures so far, reported about once a second.
public struct BenchProgress: Sendable {
    public var seconds: Double
    public var messages: Int
    public var bytes: Int
    public var handshakes: Int
    public var mismatches: Int
    /// Connections open (hold) or in flight.
    public var connections: Int
}

public enum BenchRunner {
    /// Runs one workload; `progress` is called about once a second while it runs.
    public static func run(_ options: BenchOptions, progress: (BenchProgress) -> Void = { _ in }) throws -> BenchResult {
        let loop = EventLoop(poller: try makePoller(.epoll), logger: Logger(label: "bench"))
        let address = try SocketAddress.resolve(host: options.host, port: options.port)
        let context = options.tls ? try TLSContext.client() : nil
        let tally = BenchTally()
        var active: [ObjectIdentifier: BenchClient] = [:]
        var start = MonotonicClock.now()
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
        case .hold:
            workload = .hold
            count = options.connections
        case .flood:
            let lines = (options.bytes + BenchClient.floodLine - 1) / BenchClient.floodLine
            workload = .flood(total: lines * BenchClient.floodLine, noRead: options.noRead)
            count = 1
        }
        let cpuBefore = options.serverPID.map(ProcessStats.cpuSeconds(ofTree:))
        let rssBefore = options.serverPID.map(ProcessStats.residentKiB(ofTree:))
        var rssHeld: Int?
        var rssPeak = rssBefore ?? 0
        var acceptedWithoutReading: Int?
        // Hold opens its connections a few at a time: the server's memory then shows the cost
        // of idle connections, not the peak of thousands of simultaneous handshakes.
        var launched = 0
        let initial = options.mode == .hold ? min(count, max(1, options.inFlight)) : count
        var cpuOpened: Double?
        for _ in 0..<initial { try launch(workload); launched += 1 }

        var nextProgress = MonotonicClock.now() + 1_000_000_000
        while !active.isEmpty {
            try loop.runOnce(maximumWaitMilliseconds: 50)
            if loop.now >= nextProgress {
                nextProgress += 1_000_000_000
                progress(BenchProgress(seconds: Double(loop.now - start) / 1e9, messages: tally.messages, bytes: tally.bytes,
                                       handshakes: tally.handshakes, mismatches: tally.mismatches, connections: active.count))
            }
            if options.mode == .hold && rssHeld == nil {
                while launched < count && launched - tally.handshakes < max(1, options.inFlight) {
                    try launch(workload)
                    launched += 1
                }
                guard tally.handshakes == count else {
                    if MonotonicClock.now() - start > 60_000_000_000 {
                        tally.failures.append("only \(tally.handshakes) of \(count) connections came up in 60 s")
                        break
                    }
                    continue
                }
                // Every connection is up: let the server settle, read its memory, then hold.
                cpuOpened = options.serverPID.map(ProcessStats.cpuSeconds(ofTree:)).flatMap { after in cpuBefore.map { after - $0 } }
                for _ in 0..<10 { try loop.runOnce(maximumWaitMilliseconds: 50) }
                rssHeld = options.serverPID.map(ProcessStats.residentKiB(ofTree:)) ?? 0
                start = MonotonicClock.now()
            }
            if options.noRead, let client = active.values.first, !client.reading {
                rssPeak = max(rssPeak, options.serverPID.map(ProcessStats.residentKiB(ofTree:)) ?? 0)
                // A second without progress: the server has stopped reading us. Now read.
                if client.lastWrite > 0 && MonotonicClock.now() - client.lastWrite > 1_000_000_000 {
                    acceptedWithoutReading = client.bytesSent
                    client.startReading()
                }
                continue
            }
            let elapsed = MonotonicClock.now() - start
            if options.mode == .handshake && !stopping {
                while active.count < count && elapsed < duration { try launch(workload) }
            }
            if elapsed >= duration && options.mode != .flood && !stopping {
                stopping = true
                for client in active.values { client.stopRequested = true }
                if options.mode == .handshake { break }
                if options.mode == .hold { for client in active.values { client.cancel() } }
            }
            if elapsed >= duration + 10_000_000_000 {
                tally.failures.append("\(active.count) connections did not finish")
                break
            }
            if !tally.failures.isEmpty && options.mode == .flood { break }
        }
        let seconds = Double(MonotonicClock.now() - start) / 1e9
        let cpuUsed = options.serverPID.map(ProcessStats.cpuSeconds(ofTree:)).flatMap { after in cpuBefore.map { after - $0 } }
        // Clients still open (handshakes in flight at the deadline) hold callbacks into `active`.
        for client in active.values { client.cancel() }
        active.removeAll()
        let latencies = tally.latencies
        func percentile(_ p: Double) -> Double? {
            latencies.totalCount == 0 ? nil : Double(latencies.valueAtPercentile(p * 100)) / 1000
        }
        return BenchResult(
            mode: options.mode.rawValue, transport: options.tls ? "tls" : "plain", connections: count,
            seconds: seconds, messages: tally.messages,
            messagesPerSecond: Double(tally.messages) / seconds,
            megabytesPerSecond: Double(tally.bytes) / seconds / 1e6,
            handshakesPerSecond: options.mode == .handshake ? Double(tally.handshakes) / seconds : 0,
            latencyP50Microseconds: percentile(0.5), latencyP99Microseconds: percentile(0.99),
            latencyP999Microseconds: percentile(0.999),
            latencyMaxMicroseconds: latencies.totalCount == 0 ? nil : Double(latencies.max) / 1000,
            mismatches: tally.mismatches, failures: Array(tally.failures.prefix(5)),
            serverCPUMicrosecondsPerOperation: cpuUsed.flatMap { cpu -> Double? in
                let operations: Double
                switch options.mode {
                case .pingpong: operations = Double(tally.messages)
                case .handshake: operations = Double(tally.handshakes)
                case .flood: operations = Double(tally.bytes) / 1e6
                case .hold: return nil
                }
                return operations > 0 ? cpu * 1e6 / operations : nil
            },
            serverKiBPerConnection: rssHeld.flatMap { held in rssBefore.map { Double(held - $0) / Double(count) } },
            serverCPUMicrosecondsPerConnectionOpened: cpuOpened.map { $0 * 1e6 / Double(count) },
            serverPeakGrowthKiB: options.noRead ? rssBefore.map { rssPeak - $0 } : nil,
            bytesAcceptedWithoutReading: acceptedWithoutReading)
    }
}
