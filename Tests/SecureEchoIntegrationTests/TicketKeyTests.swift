// --ticket-key-file: instances given the same key resume each other's sessions (what a fleet
// behind a balancer needs); other keys do not; a rotated key still decrypts; SIGHUP re-reads.
import Foundation
import Glibc
import Testing

private func keyFile(_ size: Int, in directory: URL, _ name: String) throws -> String {
    let path = directory.appendingPathComponent(name).path
    var bytes = [UInt8](repeating: 0, count: size)
    for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255) }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

/// Connects with s_client, saving its session to `out` or resuming from `resume`; returns
/// "Reused" or "New" as s_client reports it.
private func connect(_ port: UInt16, _ version: String, out: String? = nil, resume: String? = nil) throws -> String {
    let marker = "resume-check\n"
    var arguments = [version]
    if let out { arguments += ["-sess_out", out] }
    if let resume { arguments += ["-sess_in", resume] }
    let output = try sClient(port: port, arguments, input: marker, until: marker)
    #expect(output.hasSuffix(marker), "\(output.suffix(300))")
    return output.split(separator: "\n").first { $0.hasPrefix("Reused,") || $0.hasPrefix("New,") }
        .map { String($0.prefix { $0 != "," }) } ?? "?"
}

@Suite("Session ticket keys")
final class TicketKeyTests {
    /// Key files and saved sessions, one directory per test case.
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tickets-\(UUID().uuidString)")

    init() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    @Test("two instances with the same key file resume each other's sessions; a third with another key does not",
          arguments: [("-tls1_2", 48), ("-tls1_3", 48), ("-tls1_2", 80), ("-tls1_3", 80)])
    func sharedKey(version: String, size: Int) throws {
        let shared = try keyFile(size, in: directory, "shared.key"), other = try keyFile(size, in: directory, "other.key")
        let a = try ServerProcess(["--ticket-key-file", shared])
        let b = try ServerProcess(["--ticket-key-file", shared])
        let c = try ServerProcess(["--ticket-key-file", other])
        let session = directory.appendingPathComponent("session.pem").path
        #expect(try connect(a.tlsPort, version, out: session) == "New")
        #expect(try connect(b.tlsPort, version, resume: session) == "Reused")
        #expect(try connect(c.tlsPort, version, resume: session) == "New")
    }

    @Test("a key that is no longer first still decrypts (rotation: the new key first, the old one after)")
    func rotation() throws {
        let old = try keyFile(80, in: directory, "old.key"), new = try keyFile(80, in: directory, "new.key")
        let before = try ServerProcess(["--ticket-key-file", old])
        let after = try ServerProcess(["--ticket-key-file", new, "--ticket-key-file", old])
        let session = directory.appendingPathComponent("session.pem").path
        #expect(try connect(before.tlsPort, "-tls1_2", out: session) == "New")
        #expect(try connect(after.tlsPort, "-tls1_2", resume: session) == "Reused")
    }

    @Test("SIGHUP re-reads the key files: a replaced key no longer resumes old sessions")
    func reload() throws {
        let path = try keyFile(48, in: directory, "rotating.key")
        // SIGHUP reloads certificate files (an ephemeral certificate has none to re-read).
        let certificate = try makeSelfSignedCertificate("tickets.test", in: directory)
        let server = try ServerProcess(["--ticket-key-file", path, "--cert", certificate.certificate, "--key", certificate.key])
        let session = directory.appendingPathComponent("session.pem").path
        #expect(try connect(server.tlsPort, "-tls1_3", out: session) == "New")
        #expect(try connect(server.tlsPort, "-tls1_3", resume: session) == "Reused")
        _ = try keyFile(48, in: directory, "rotating.key")
        server.send(signal: SIGHUP)
        #expect(server.waitForLog("SIGHUP: reloaded TLS certificates"))
        #expect(try connect(server.tlsPort, "-tls1_3", resume: session) == "New")
    }

    @Test("a key file of another size exits 1 naming it")
    func badSize() throws {
        let path = try keyFile(32, in: directory, "short.key")
        let result = try runCommand(secureEchoBinary(), ["--tls-port", "0", "--plain-port", "0", "--ticket-key-file", path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("ticket key file \(path): 32 bytes (48 or 80"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "one line: \(result.stderr)")
    }

    @Test("two instances behind HAProxy round-robin: the second connection lands on the other instance and resumes")
    func acrossTheBalancer() throws {
        let haproxy = "/usr/sbin/haproxy"
        try #require(FileManager.default.isExecutableFile(atPath: haproxy), "HAProxy is installed by scripts/test.sh")
        let key = try keyFile(80, in: directory, "fleet.key")
        let one = try ServerProcess(["--ticket-key-file", key, "--proxy-protocol", "v2"])
        let two = try ServerProcess(["--ticket-key-file", key, "--proxy-protocol", "v2"])
        let front = try freePort()
        let config = directory.appendingPathComponent("haproxy.cfg")
        try """
            defaults
                mode tcp
                timeout connect 5s
                timeout client 30s
                timeout server 30s
            listen fleet
                bind 127.0.0.1:\(front)
                balance roundrobin
                server one 127.0.0.1:\(one.tlsPort) send-proxy-v2
                server two 127.0.0.1:\(two.tlsPort) send-proxy-v2

            """.write(to: config, atomically: true, encoding: .utf8)
        let proxy = try ChildProcess(haproxy, ["-db", "-f", config.path], mergeStderr: true)
        defer { proxy.terminate() }
        try waitForPort(front).close()

        let session = directory.appendingPathComponent("session.pem").path
        for version in ["-tls1_2", "-tls1_3"] {
            #expect(try connect(front, version, out: session) == "New")
            #expect(try connect(front, version, resume: session) == "Reused", "\(version) across the balancer")
        }
        // Round robin sent the four TLS connections two and two (the plain probe above took a
        // turn too, but never finished a handshake): each resumption was on the other instance.
        func handshakes(_ server: ServerProcess) -> [Substring] {
            server.log.split(separator: "\n").filter { $0.contains(" closed ") && $0.contains("tls_version=") }
        }
        let until = Date().addingTimeInterval(10)
        while handshakes(one).count + handshakes(two).count < 4 && Date() < until { usleep(20_000) }
        #expect(handshakes(one).count == 2 && handshakes(two).count == 2, "\(handshakes(one)) \(handshakes(two))")
        // Consecutive connections alternate between the two, so each New/Reused pair was split.
        let resumed = (handshakes(one) + handshakes(two)).filter { $0.contains("resumed=yes") }
        #expect(resumed.count == 2, "the two resumptions, each on the instance that did not issue the ticket")
        for version in ["TLSv1.2", "TLSv1.3"] {
            func served(_ server: ServerProcess, resumed: Bool) -> Bool {
                handshakes(server).contains { $0.contains("tls_version=\(version) ") && $0.contains("resumed=\(resumed ? "yes" : "no")") }
            }
            #expect(served(one, resumed: false) != served(one, resumed: true), "\(version): issued and resumed on different instances")
            #expect(served(two, resumed: false) != served(two, resumed: true), "\(version): issued and resumed on different instances")
        }
    }
}
