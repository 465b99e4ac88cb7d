// What one event loop counts for /metrics. The loop's own thread is the only writer, so a
// counter is a relaxed load and store (a plain `mov`, no locked instruction) on memory no
// other loop writes; a scrape, on whichever loop serves it, reads every loop's counters and
// sums them. Per-handshake details (versions, ciphers, durations) change far less often and
// sit behind a per-loop mutex that only a scrape ever contends for.
import SecureEchoLoop
import SecureEchoSystem
import SecureEchoTLS
import Synchronization

/// A monotonically increasing count with a single writer.
struct Counter: ~Copyable, Sendable {
    private let storage = Atomic<Int>(0)

    /// Only from the owning loop's thread.
    @inline(__always)
    func add(_ n: Int = 1) {
        storage.store(storage.load(ordering: .relaxed) &+ n, ordering: .relaxed)
    }

    var value: Int { storage.load(ordering: .relaxed) }
}

/// One transport's traffic on one loop.
final class TransportCounters: Sendable {
    let accepted = Counter()
    let closed = Counter()
    let bytesIn = Counter()
    let bytesOut = Counter()
}

/// Why a handshake (or the PROXY header before it) did not complete.
enum HandshakeFailure: String, CaseIterable, Sendable {
    case tls, reset, timeout, proxyHeader = "proxy_header", eof, shutdown, system
}

/// Why a connection was closed by the server's clock.
enum TimeoutKind: String, CaseIterable, Sendable {
    case handshake, idle, shutdownGrace = "shutdown_grace"
}

/// Handshake durations, in seconds, by upper bound (Prometheus histogram buckets).
let handshakeBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/// A protocol version and cipher suite a handshake settled on.
struct Negotiated: Hashable, Comparable, Sendable {
    let version: String
    let cipher: String

    static func < (a: Negotiated, b: Negotiated) -> Bool { (a.version, a.cipher) < (b.version, b.cipher) }
}

/// The rare, richer events of one loop.
struct HandshakeTally: Sendable {
    var completed = 0
    var resumed = 0
    var failures: [HandshakeFailure: Int] = [:]
    var negotiated: [Negotiated: Int] = [:]
    /// ClientHellos by the highest version they offered ("TLSv1.3"), completed or not.
    var offeredMaximum: [String: Int] = [:]
    /// Cumulative counts per bucket of `handshakeBuckets`, then the count and sum of all.
    var durationBuckets = [Int](repeating: 0, count: handshakeBuckets.count)
    var durationCount = 0
    var durationSum = 0.0
}

final class LoopCounters: Sendable {
    /// The loop's own pass figures (wake-ups, events, pass lengths), which its EventLoop writes.
    let passes: LoopStatistics
    let tls = TransportCounters()
    let plain = TransportCounters()
    let http = TransportCounters()
    let refused = Counter()
    let handshakeTimeouts = Counter()
    let idleTimeouts = Counter()
    let graceTimeouts = Counter()
    let proxyRejected = Counter()
    let handshakes = Locked(HandshakeTally())

    init(passes: LoopStatistics = LoopStatistics()) {
        self.passes = passes
    }

    func transport(_ name: String) -> TransportCounters {
        switch name {
        case "tls": tls
        case "http": http
        default: plain
        }
    }

    func timedOut(_ kind: TimeoutKind) {
        switch kind {
        case .handshake: handshakeTimeouts.add()
        case .idle: idleTimeouts.add()
        case .shutdownGrace: graceTimeouts.add()
        }
    }

    func handshakeCompleted(version: String, cipher: String, resumed: Bool, seconds: Double) {
        handshakes.withLock { tally in
            tally.completed += 1
            if resumed { tally.resumed += 1 }
            tally.negotiated[Negotiated(version: version, cipher: cipher), default: 0] += 1
            for (index, bound) in handshakeBuckets.enumerated() where seconds <= bound { tally.durationBuckets[index] += 1 }
            tally.durationCount += 1
            tally.durationSum += seconds
        }
    }

    /// Counted once per connection, when its handshake completes or fails.
    func clientHelloReceived(_ hello: ClientHello) {
        // Unnamed versions share one label, so that no client can grow the set.
        let named = TLSNames.version(hello.highestOfferedVersion)
        let version = named.hasPrefix("0x") ? "unknown" : named
        handshakes.withLock { $0.offeredMaximum[version, default: 0] += 1 }
    }

    func handshakeFailed(_ reason: HandshakeFailure) {
        handshakes.withLock { $0.failures[reason, default: 0] += 1 }
    }
}
