// Socket activation the way systemd does it, without systemd: systemd-socket-activate binds
// the ports and passes them (LISTEN_FDS, LISTEN_FDNAMES) to the real binary. And the units in
// contrib/systemd/ pass systemd's own checks.
import Foundation
import Glibc
import Testing

private let activate = "/usr/bin/systemd-socket-activate"

@Suite("systemd")
struct SystemdTests {
    @Test("sockets passed as tls and plain are served by every loop, the ready line names them, and SIGTERM exits 0")
    func socketActivation() throws {
        try #require(FileManager.default.isExecutableFile(atPath: activate), "systemd-socket-activate is installed by scripts/test.sh")
        let tlsPort = try freePort(), plainPort = try freePort()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("activated-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let child = try ChildProcess(activate, ["-l", "127.0.0.1:\(tlsPort)", "-l", "127.0.0.1:\(plainPort)", "--fdname=tls:plain",
                                                secureEchoBinary(), "--threads", "2", "--tls-port", "1", "--plain-port", "2"],
                                     stderrPath: log.path)
        defer { child.terminate() }
        // systemd-socket-activate starts the server when the first client arrives; that
        // client waits in the listen queue meanwhile and is served like any other.
        let first = try waitForPort(plainPort)
        let ready = try ServerProcess.readLine(from: child.stdout, timeout: 20, log: log)
        #expect(try first.echo("first\n") == "first\n")
        first.close()
        // The ports given on the command line are not bound: systemd's sockets are used instead.
        #expect(ready == "ready tls=127.0.0.1:\(tlsPort) plain=127.0.0.1:\(plainPort)")
        for i in 0..<8 {  // enough connections for both loops to take some from the shared queue
            let tls = try TestClient(port: tlsPort, tls: true)
            #expect(try tls.echo("activated \(i)\n") == "activated \(i)\n")
            tls.close()
            let plain = try TestClient(port: plainPort, tls: false)
            #expect(try plain.echo("plain \(i)\n") == "plain \(i)\n")
            plain.close()
        }
        kill(child.pid, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while child.isRunning && Date() < deadline { usleep(20_000) }
        #expect(child.wait() == 0)
        #expect(throws: (any Error).self) { _ = try TestClient(port: plainPort, tls: false, timeout: 2) }
    }

    @Test("a passed socket with an unknown name exits 1 naming it")
    func unknownName() throws {
        try #require(FileManager.default.isExecutableFile(atPath: activate))
        let port = try freePort()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("activated-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let child = try ChildProcess(activate, ["-l", "127.0.0.1:\(port)", "--fdname=echo", secureEchoBinary()], stderrPath: log.path)
        defer { child.terminate() }
        let trigger = try waitForPort(port)
        defer { trigger.close() }
        let deadline = Date().addingTimeInterval(20)
        while child.isRunning && Date() < deadline { usleep(20_000) }
        #expect(child.wait() == 1)
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        #expect(text.contains("unknown or repeated socket name 'echo'"), "\(text)")
    }

    @Test("the units in contrib/systemd pass systemd-analyze verify")
    func unitsVerify() throws {
        let analyze = "/usr/bin/systemd-analyze"
        try #require(FileManager.default.isExecutableFile(atPath: analyze))
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../contrib/systemd")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("units-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var units: [String] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path).sorted() {
            // verify checks that ExecStart's binary exists: point it at the one under test.
            let text = try String(contentsOf: source.appendingPathComponent(name), encoding: .utf8)
                .replacingOccurrences(of: "/usr/local/bin/secure-echo", with: secureEchoBinary())
            try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
            units.append(directory.appendingPathComponent(name).path)
        }
        #expect(units.count == 3)
        let result = try runCommand(analyze, ["verify", "--man=no"] + units)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.isEmpty, "\(result.stderr)")
    }
}
