// GET /metrics: every loop's counters summed (the loops' own pass figures per loop), in
// Prometheus's text exposition format (0.0.4).
import SecureEchoLoop

enum MetricsText {
    /// `logLinesDropped` is the one figure that is not a loop's: the log writer's.
    static func render(_ loops: [LoopCounters], logLinesDropped: Int) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for sample in samples { out += "\(name)\(sample.labels) \(sample.value)\n" }
        }
        func sum(_ value: (LoopCounters) -> Int) -> String { String(loops.reduce(0) { $0 + value($1) }) }
        let transports = ["tls", "plain", "http"]
        func perTransport(_ value: @escaping (TransportCounters) -> Int) -> [(labels: String, value: String)] {
            transports.map { name in ("{transport=\"\(name)\"}", sum { value($0.transport(name)) }) }
        }

        family("secure_echo_connections_accepted_total", "counter", "Connections accepted, by transport (http is the metrics port).",
               perTransport { $0.accepted.value })
        family("secure_echo_connections_open", "gauge", "Connections open now, by transport.",
               perTransport { $0.accepted.value - $0.closed.value })
        family("secure_echo_connections_refused_total", "counter", "Connections refused at --max-connections.",
               [("", sum { $0.refused.value })])
        family("secure_echo_received_bytes_total", "counter", "Bytes received from clients (plaintext), by transport.",
               perTransport { $0.bytesIn.value })
        family("secure_echo_sent_bytes_total", "counter", "Bytes sent to clients (plaintext), by transport.",
               perTransport { $0.bytesOut.value })
        family("secure_echo_timeouts_total", "counter", "Connections closed by a timeout, by kind.", [
            ("{kind=\"handshake\"}", sum { $0.handshakeTimeouts.value }),
            ("{kind=\"idle\"}", sum { $0.idleTimeouts.value }),
            ("{kind=\"shutdown_grace\"}", sum { $0.graceTimeouts.value }),
        ])
        family("secure_echo_proxy_headers_rejected_total", "counter", "Connections closed for a missing or malformed PROXY header.",
               [("", sum { $0.proxyRejected.value })])

        var tally = HandshakeTally()
        for loop in loops {
            let one = loop.handshakes.withLock { $0 }
            tally.completed += one.completed
            tally.resumed += one.resumed
            tally.failures.merge(one.failures, uniquingKeysWith: +)
            tally.negotiated.merge(one.negotiated, uniquingKeysWith: +)
            tally.offeredMaximum.merge(one.offeredMaximum, uniquingKeysWith: +)
            for index in tally.durationBuckets.indices { tally.durationBuckets[index] += one.durationBuckets[index] }
            tally.durationCount += one.durationCount
            tally.durationSum += one.durationSum
        }
        family("secure_echo_tls_handshakes_total", "counter", "TLS handshakes completed.", [("", String(tally.completed))])
        family("secure_echo_tls_resumed_total", "counter", "TLS handshakes that resumed a session.", [("", String(tally.resumed))])
        family("secure_echo_handshake_failures_total", "counter", "Handshakes (or PROXY headers before them) that did not complete, by reason.",
               HandshakeFailure.allCases.map { ("{reason=\"\($0.rawValue)\"}", String(tally.failures[$0] ?? 0)) })
        family("secure_echo_tls_negotiated_total", "counter", "Completed TLS handshakes by protocol version and cipher suite.",
               tally.negotiated.sorted { $0.key < $1.key }.map { key, count in
                   ("{version=\"\(key.version)\",cipher=\"\(key.cipher)\"}", String(count))
               })
        family("secure_echo_tls_client_hellos_total", "counter", "ClientHellos received (handshake completed or not), by the highest protocol version offered.",
               tally.offeredMaximum.sorted { $0.key < $1.key }.map { version, count in
                   ("{offered_max_version=\"\(version)\"}", String(count))
               })
        var buckets = zip(handshakeBuckets, tally.durationBuckets).map { bound, count in
            (labels: "{le=\"\(format(bound))\"}", value: String(count))
        }
        buckets.append(("{le=\"+Inf\"}", String(tally.durationCount)))
        out += "# HELP secure_echo_tls_handshake_duration_seconds From accept to a completed TLS handshake.\n"
        out += "# TYPE secure_echo_tls_handshake_duration_seconds histogram\n"
        for bucket in buckets { out += "secure_echo_tls_handshake_duration_seconds_bucket\(bucket.labels) \(bucket.value)\n" }
        out += "secure_echo_tls_handshake_duration_seconds_sum \(tally.durationSum)\n"
        out += "secure_echo_tls_handshake_duration_seconds_count \(tally.durationCount)\n"
        renderPasses(loops, into: &out)
        family("secure_echo_log_lines_dropped_total", "counter", "Log lines dropped because stderr was not keeping up.",
               [("", String(logLinesDropped))])
        return out
    }

    /// Per loop, not summed: one loop with long passes is the finding, and an average over
    /// loops would hide it. The label set is bounded by --threads.
    private static func renderPasses(_ loops: [LoopCounters], into out: inout String) {
        out += "# HELP secure_echo_loop_wakeups_total Times each event loop came back from its poller.\n"
        out += "# TYPE secure_echo_loop_wakeups_total counter\n"
        for (index, loop) in loops.enumerated() { out += "secure_echo_loop_wakeups_total{loop=\"\(index)\"} \(loop.passes.wakeups)\n" }
        out += "# HELP secure_echo_loop_events_total Readiness events each loop's poller reported (divide by wake-ups for events per wait).\n"
        out += "# TYPE secure_echo_loop_events_total counter\n"
        for (index, loop) in loops.enumerated() { out += "secure_echo_loop_events_total{loop=\"\(index)\"} \(loop.passes.events)\n" }
        out += "# HELP secure_echo_loop_pass_duration_seconds From the poller's return to the loop's next wait: how long every connection on the loop waited.\n"
        out += "# TYPE secure_echo_loop_pass_duration_seconds histogram\n"
        for (index, loop) in loops.enumerated() {
            let name = "secure_echo_loop_pass_duration_seconds"
            let counts = loop.passes.cumulativePassCounts
            for (bound, count) in zip(LoopStatistics.passBucketBounds, counts) {
                out += "\(name)_bucket{loop=\"\(index)\",le=\"\(format(Double(bound) / 1e9))\"} \(count)\n"
            }
            let wakeups = loop.passes.wakeups
            out += "\(name)_bucket{loop=\"\(index)\",le=\"+Inf\"} \(max(wakeups, counts.last ?? 0))\n"
            out += "\(name)_sum{loop=\"\(index)\"} \(Double(loop.passes.busyNanoseconds) / 1e9)\n"
            out += "\(name)_count{loop=\"\(index)\"} \(max(wakeups, counts.last ?? 0))\n"
        }
    }

    /// 0.001 → "0.001", 1 → "1", 2.5 → "2.5"
    private static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
