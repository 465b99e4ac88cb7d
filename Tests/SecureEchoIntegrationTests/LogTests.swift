// The log as the server's outside sees it: a stderr nobody reads never stops echo, and every
// thread of the server blocks the signals it reads from its signalfd.
import Foundation
import Glibc
import Testing
@testable import SecureEcho
@testable import SecureEchoLoop
@testable import SecureEchoSystem
@testable import SecureEchoTLS

@Suite("Logs and signals")
struct LogTests {
    @Test("a stderr pipe nobody reads drops log lines and never delays echo")
    func stalledStderr() throws {
        // stderr is a pipe (64 KiB in the kernel) that the test does not read until the end.
        let child = try ChildProcess(secureEchoBinary(), ["--tls-port", "0", "--plain-port", "0", "--threads", "1"])
        defer { child.terminate() }
        let ready = try ServerProcess.readLine(from: child.stdout, timeout: 20, log: URL(fileURLWithPath: "/dev/null"))
        let port = try #require(ready.split(separator: " ").first { $0.hasPrefix("plain=") }?
            .split(separator: ":").last.flatMap { UInt16($0) })
        // Two lines of ~130 bytes per connection: 3,000 connections are ~800 KB of log, far
        // past the pipe and the writer's queue. A server writing its log inline would block on
        // the full pipe after a few hundred and every later echo would time out.
        for i in 0..<3000 {
            let client = try TestClient(port: port, tls: false, timeout: 5)
            #expect(try client.echo("ping \(i)\n", timeout: 5) == "ping \(i)\n")
            client.close()
        }
        // Now read stderr: the writer catches up and says how many lines it had to drop.
        var log: [UInt8] = []
        let deadline = Date().addingTimeInterval(20)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while Date() < deadline, !String(decoding: log, as: UTF8.self).contains("log lines dropped") {
            var p = pollfd(fd: child.stderr, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 200) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { read(child.stderr, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            log += buffer[..<n]
        }
        let text = String(decoding: log, as: UTF8.self)
        let notice = try #require(text.split(separator: "\n").first { $0.contains("log lines dropped") }, "\(text.suffix(500))")
        let dropped = notice.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        #expect(dropped > 1000, "\(notice)")
        // Every line that was written is whole: lines are dropped, never cut.
        for line in text.split(separator: "\n") {
            #expect(line.hasPrefix("20") || line.hasPrefix("warning "), "\(line)")
        }
    }

    @Test("--log-format json: one object per line, with the connection's fields typed")
    func jsonLogs() throws {
        let server = try ServerProcess(["--log-format", "json"])
        let client = try TestClient(port: server.tlsPort, tls: true)
        #expect(try client.echo("json\n") == "json\n")
        client.close()
        #expect(server.waitForLog("\"event\":\"closed\""))
        let objects = try server.log.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
        }
        let closed = try #require(objects.first { $0["event"] as? String == "closed" })
        #expect(closed["peer"] as? String == "127.0.0.1:\(client.localPort)")
        #expect(closed["transport"] as? String == "tls")
        #expect(closed["tls_version"] as? String == "TLSv1.3")
        #expect(closed["bytes_in"] as? Int == 5 && closed["bytes_out"] as? Int == 5)
        #expect(closed["resumed"] as? Bool == false)
        #expect(closed["reason"] as? String == "eof")
        #expect(closed["duration_ms"] is Int && closed["time"] is String && closed["level"] as? String == "info")
        #expect(objects.contains { $0["event"] as? String == "serving" && $0["message"] is String })
    }

    @Test("every thread of the server blocks SIGTERM, SIGINT and SIGHUP")
    func signalsBlockedEverywhere() throws {
        let server = try ServerProcess(["--threads", "3"])
        // The loops' threads start just after the ready line.
        var tasks: [String] = []
        let deadline = Date().addingTimeInterval(10)
        repeat {
            tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(server.pid)/task")
            if tasks.count < 4 { usleep(20_000) }
        } while tasks.count < 4 && Date() < deadline
        #expect(tasks.count >= 4, "main, two more loops and the log writer: \(tasks)")
        let wanted: UInt64 = 1 << (UInt64(SIGTERM) - 1) | 1 << (UInt64(SIGINT) - 1) | 1 << (UInt64(SIGHUP) - 1)
        for task in tasks {
            let status = try String(contentsOfFile: "/proc/\(server.pid)/task/\(task)/status", encoding: .utf8)
            let field = try #require(status.split(separator: "\n").first { $0.hasPrefix("SigBlk:") })
            let mask = try #require(UInt64(field.dropFirst("SigBlk:".count).trimmingCharacters(in: .whitespaces), radix: 16))
            #expect(mask & wanted == wanted, "thread \(task) SigBlk \(field)")
        }
        server.send(signal: SIGTERM)
        #expect(server.exitStatus(within: 10) == 0)
    }
}
