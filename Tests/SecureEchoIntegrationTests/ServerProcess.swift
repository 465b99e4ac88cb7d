// Runs the real secure-echo binary: waits for its ready line (never sleeps and hopes),
// captures its log, reads its memory from /proc, and stops it.
import Foundation
import Glibc
import Testing
@testable import SecureEcho
@testable import SecureEchoLoop
@testable import SecureEchoSystem
@testable import SecureEchoTLS
@testable import SecureEchoBench

/// Where `swift build` put the executable: beside the test bundle.
func secureEchoBinary() -> String {
    if let path = ProcessInfo.processInfo.environment["SECURE_ECHO_BIN"] { return path }
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    return bundle.appendingPathComponent("secure-echo").path
}

final class ServerProcess {
    private let child: ChildProcess
    let logURL: URL
    private(set) var tlsPort: UInt16 = 0
    private(set) var plainPort: UInt16 = 0
    private(set) var metricsPort: UInt16 = 0
    private(set) var reportPort: UInt16 = 0
    private(set) var readyLine = ""

    /// Starts `secure-echo` on OS-chosen ports with `arguments` added, and waits for its ready line.
    init(_ arguments: [String], ports: Bool = true, environment: [String: String] = [:], timeout: Double = 20) throws {
        logURL = FileManager.default.temporaryDirectory.appendingPathComponent("secure-echo-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        // The log goes to a file, not a pipe: a log nobody drains must never block the server.
        child = try ChildProcess(secureEchoBinary(), (ports ? ["--tls-port", "0", "--plain-port", "0"] : []) + arguments,
                                 stderrPath: logURL.path, environment: environment)
        readyLine = try Self.readLine(from: child.stdout, timeout: timeout, log: logURL)
        for field in readyLine.split(separator: " ") {
            let parts = field.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let port = parts[1].split(separator: ":").last.flatMap({ UInt16($0) }) else { continue }
            if parts[0] == "tls" { tlsPort = port }
            if parts[0] == "plain" { plainPort = port }
            if parts[0] == "metrics" { metricsPort = port }
            if parts[0] == "report" { reportPort = port }
        }
    }

    deinit { stop() }

    var pid: pid_t { child.pid }

    func port(tls: Bool) -> UInt16 { tls ? tlsPort : plainPort }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// The server's resident memory in KiB, from /proc (the library's own reader).
    func residentKiB() -> Int { ProcessStats.residentKiB(ofTree: pid) }

    /// CPU seconds the server has used, from /proc.
    func cpuSeconds() -> Double { ProcessStats.cpuSeconds(ofTree: pid) }

    /// Waits until the log contains `text` (the server logs after it acts, so poll briefly).
    func waitForLog(_ text: String, timeout: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if log.contains(text) { return true }
            usleep(20_000)
        }
        return false
    }

    var isRunning: Bool { child.isRunning }

    func send(signal: CInt) {
        kill(pid, signal)
    }

    /// The exit status once the server has exited by itself within `timeout`, else nil.
    func exitStatus(within timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while child.isRunning && Date() < deadline { usleep(10_000) }
        return child.isRunning ? nil : child.wait()
    }

    /// Ends the server (SIGTERM, then SIGKILL after 5 s) and deletes its log. Every server of the
    /// suite exits 0 soon after SIGTERM (within a second here), so anything else fails its test, with
    /// the end of its log: a trap, a segfault or a hang at shutdown can follow assertions that
    /// all passed.
    private func stop() {
        child.terminate()
        let status = child.wait()
        if status != 0 {
            let how = status == 128 + SIGKILL ? "was killed: it had not exited 5 s after SIGTERM"
                : status > 128 ? "was ended by signal \(status - 128) (\(String(cString: strsignal(status - 128))))"
                : "exited with status \(status)"
            Issue.record("secure-echo \(how); its log ends: \(String(log.suffix(3000)))")
        }
        try? FileManager.default.removeItem(at: logURL)
    }

    static func readLine(from fd: CInt, timeout: Double, log: URL) throws -> String {
        var line: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        var byte: UInt8 = 0
        while true {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 || poll(&p, 1, CInt(remaining * 1000) + 1) <= 0 {
                throw TestTimeout(what: "ready line; log: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
            }
            guard read(fd, &byte, 1) == 1 else {
                throw TestTimeout(what: "server exited before its ready line; log: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
            }
            if byte == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
    }
}

/// The result of running a command to completion.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a command with `input` on stdin, to completion or `timeout` (then kills it).
func runCommand(_ executable: String, _ arguments: [String], input: [UInt8] = [], timeout: Double = 30) throws -> CommandResult {
    let child = try ChildProcess(executable, arguments)
    child.write(input)
    child.closeStdin()
    let deadline = Date().addingTimeInterval(timeout)
    var out: [UInt8] = [], err: [UInt8] = []
    var open = [child.stdout, child.stderr]
    var buffer = [UInt8](repeating: 0, count: 65536)
    while !open.isEmpty {
        if Date() > deadline {
            child.terminate()
            throw TestTimeout(what: "\(executable) \(arguments.joined(separator: " ")); stdout so far: \(String(decoding: out, as: UTF8.self))")
        }
        var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        _ = poll(&fds, nfds_t(fds.count), 100)
        for p in fds where p.revents != 0 {
            let n = read(p.fd, &buffer, buffer.count)
            if n <= 0 { open.removeAll { $0 == p.fd }; continue }
            if p.fd == child.stdout { out += buffer.prefix(n) } else { err += buffer.prefix(n) }
        }
    }
    return CommandResult(status: child.wait(),
                         stdout: String(decoding: out, as: UTF8.self),
                         stderr: String(decoding: err, as: UTF8.self))
}

/// A child process kept interactive: write to its stdin, wait for bytes on its stdout,
/// then close stdin. For clients such as `openssl s_client` that must not see EOF too early.
final class InteractiveProcess {
    private let child: ChildProcess
    private(set) var output: [UInt8] = []

    /// `mergeStderr` reads the client's diagnostics too (s_client reports protocol errors there).
    init(_ executable: String, _ arguments: [String], mergeStderr: Bool = false) throws {
        child = try ChildProcess(executable, arguments, stderrPath: "/dev/null", mergeStderr: mergeStderr)
    }

    func write(_ text: String) {
        child.write(Array(text.utf8))
    }

    /// Reads stdout until it contains `expected` or the deadline passes; returns everything read.
    func read(until expected: String, timeout: Double = 20) -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !String(decoding: output, as: UTF8.self).contains(expected) && Date() < deadline {
            var p = pollfd(fd: child.stdout, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) > 0 else { continue }
            let n = Glibc.read(child.stdout, &buffer, buffer.count)
            if n <= 0 { break }
            output += buffer.prefix(n)
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Closes stdin and waits for the process to end (terminating it after `timeout`).
    func finish(timeout: Double = 10) -> Int32 {
        child.closeStdin()
        let deadline = Date().addingTimeInterval(timeout)
        while child.isRunning && Date() < deadline { usleep(20_000) }
        child.terminate()
        return child.wait()
    }
}

/// A free TCP port on 127.0.0.1, for a program that cannot report the port the OS chose.
func freePort() throws -> UInt16 {
    let socket = try Socket.listen(on: try SocketAddress.resolve(host: "127.0.0.1", port: 0))
    defer { socket.close() }
    return try socket.localAddress().port
}

/// A plain client on `port`, once another program (HAProxy, systemd-socket-activate) listens there.
func waitForPort(_ port: UInt16, timeout: Double = 10) throws -> TestClient {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        do { return try TestClient(port: port, tls: false, timeout: 2) } catch {
            if Date() > deadline { throw error }
            usleep(20_000)
        }
    }
}
