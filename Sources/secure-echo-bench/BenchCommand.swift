// secure-echo-bench: a load generator built on secure-echo's own event loop and TLS code.
import ArgumentParser
import Foundation
import SecureEchoBench

@main
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secure-echo-bench",
        abstract: "Load generator for echo servers (secure-echo or any other), every echo verified byte for byte.",
        discussion: """
            Modes: pingpong (msg/s and latency), handshake (full TLS handshakes/s), flood (one connection, \
            bulk MB/s), hold (N idle connections; with --pid, the server's memory per connection). With \
            --pid, server CPU per operation is reported too (the process and its children, for forking servers). \
            floor needs no server: it measures libssl's own cost in-process (server CPU per full handshake over \
            a BIO pair for --duration seconds, heap per idle server SSL over --connections socket pairs).
            """)

    enum Mode: String, CaseIterable, ExpressibleByArgument {
        case pingpong, handshake, flood, hold, floor
    }

    @Argument(help: "pingpong, handshake, flood, hold or floor.")
    var mode: Mode

    @Option(help: "Server host.")
    var host = "127.0.0.1"

    @Option(help: "Server port (every mode but floor).")
    var port: UInt16?

    @Flag(help: "Plain TCP instead of TLS.")
    var plain = false

    @Option(help: "Connections (pingpong, hold), handshakes in flight (handshake) or idle sessions (floor).")
    var connections = 1

    @Option(help: "Line size in bytes for pingpong, newline included.")
    var size = 64

    @Option(help: "Seconds to run pingpong and handshake.")
    var duration = 5.0

    @Option(help: "Bytes for flood.")
    var bytes = 64 << 20

    @Option(help: "The server's process id, to report its CPU per operation and memory per held connection.")
    var pid: Int32?

    @Flag(help: "flood: write without reading until the server stops taking bytes (backpressure), then read it all back.")
    var noRead = false

    @Option(help: "hold: handshakes in flight while the connections are opened.")
    var inFlight = 8

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        guard connections >= 1 else { throw ValidationError("--connections must be at least 1") }
        guard size >= 1 && size <= 1 << 20 else { throw ValidationError("--size must be between 1 and 1048576") }
        guard duration > 0 else { throw ValidationError("--duration must be positive") }
        guard bytes >= 1 else { throw ValidationError("--bytes must be positive") }
        if mode == .handshake && plain { throw ValidationError("handshake mode needs TLS (drop --plain)") }
        if noRead && mode != .flood { throw ValidationError("--no-read applies to flood only") }
        if mode != .floor && port == nil { throw ValidationError("--port is required for \(mode.rawValue)") }
        if mode == .floor && plain { throw ValidationError("floor measures TLS (drop --plain)") }
    }

    func run() throws {
        guard let port, let benchMode = BenchMode(rawValue: mode.rawValue) else { return try runFloor() }
        var options = BenchOptions()
        options.host = host
        options.port = port
        options.tls = !plain
        options.mode = benchMode
        options.connections = connections
        options.inFlight = inFlight
        options.size = size
        options.duration = duration
        options.bytes = bytes
        options.serverPID = pid
        options.noRead = noRead
        let showProgress = isatty(STDERR_FILENO) == 1
        let result = try BenchRunner.run(options) { progress in
            if showProgress { Self.report(progress, mode: benchMode) }
        }
        if showProgress { Self.writeError("\r\u{1B}[K") }  // clear the progress line
        if json {
            try Self.printJSON(result)
        } else {
            print(table(result))
        }
        fflush(nil)
        if result.mismatches > 0 || !result.failures.isEmpty {
            throw ExitCode.failure
        }
    }

    /// One self-overwriting line on stderr (only when it is a terminal), so long runs show life.
    private static func report(_ p: BenchProgress, mode: BenchMode) {
        let rate: String
        switch mode {
        case .pingpong: rate = String(format: "%.0f msg/s", Double(p.messages) / max(p.seconds, 0.001))
        case .handshake: rate = String(format: "%.0f handshakes/s", Double(p.handshakes) / max(p.seconds, 0.001))
        case .flood: rate = String(format: "%.1f MB echoed, %.0f MB/s", Double(p.bytes) / 1e6, Double(p.bytes) / 1e6 / max(p.seconds, 0.001))
        case .hold: rate = "\(p.handshakes) connections up"
        }
        let mismatches = p.mismatches > 0 ? ", \(p.mismatches) MISMATCHED" : ""
        writeError("\r\u{1B}[K\(mode.rawValue) \(Int(p.seconds.rounded())) s: \(rate)\(mismatches)")
    }

    private static func writeError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    private func runFloor() throws {
        let result = try FloorRunner.run(duration: duration, idleSessions: connections)
        if json {
            try Self.printJSON(result)
        } else {
            let rows = [
                ("mode", "floor: libssl in-process, \(result.negotiated)"),
                ("full handshakes over a BIO pair", "\(result.handshakes)"),
                ("server CPU µs per handshake", String(format: "%.1f", result.serverMicrosecondsPerHandshake)),
                ("client CPU µs per handshake", String(format: "%.1f", result.clientMicrosecondsPerHandshake)),
                ("idle server sessions held", "\(result.idleSessions)"),
                ("heap KiB per idle server SSL", result.heapKiBPerIdleSession.map { String(format: "%.1f", $0) } ?? "unavailable (malloc keeps no count)"),
                ("failures", result.failures.isEmpty ? "0" : result.failures.joined(separator: "; ")),
            ]
            print(Self.format(rows))
        }
        fflush(nil)
        if !result.failures.isEmpty { throw ExitCode.failure }
    }

    private static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    private static func format(_ rows: [(String, String)]) -> String {
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
    }

    private func table(_ r: BenchResult) -> String {
        func f(_ v: Double?, _ digits: Int = 1) -> String { v.map { String(format: "%.\(digits)f", $0) } ?? "-" }
        var rows = [
            ("mode", "\(r.mode) over \(r.transport), \(r.connections) connection(s)"),
            ("seconds", f(r.seconds, 2)),
        ]
        switch mode {
        case .pingpong:
            rows += [("messages/s", f(r.messagesPerSecond, 0)), ("MB/s", f(r.megabytesPerSecond)),
                     ("latency p50 µs", f(r.latencyP50Microseconds)), ("latency p99 µs", f(r.latencyP99Microseconds)),
                     ("latency p99.9 µs", f(r.latencyP999Microseconds)),
                     ("latency max µs", f(r.latencyMaxMicroseconds))]
        case .handshake:
            rows += [("handshakes/s", f(r.handshakesPerSecond, 0))]
        case .flood:
            rows += [("MB/s echoed", f(r.megabytesPerSecond))]
            if let accepted = r.bytesAcceptedWithoutReading {
                rows.append(("bytes taken before the server stopped reading", "\(accepted)"))
            }
            if let peak = r.serverPeakGrowthKiB { rows.append(("server RSS growth, peak KiB", "\(peak)")) }
        case .hold:
            rows += [("server KiB per connection", f(r.serverKiBPerConnection)),
                     ("server CPU µs per connection opened", f(r.serverCPUMicrosecondsPerConnectionOpened))]
        case .floor:
            break
        }
        if let cpu = r.serverCPUMicrosecondsPerOperation {
            let unit = mode == .flood ? "per MB" : mode == .handshake ? "per handshake" : "per message"
            rows.append(("server CPU µs \(unit)", f(cpu)))
        }
        rows += [("mismatched reads", "\(r.mismatches)"), ("failures", r.failures.isEmpty ? "0" : r.failures.joined(separator: "; "))]
        return Self.format(rows)
    }
}

