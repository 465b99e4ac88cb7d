// SIGHUP re-reads the certificate files without dropping anyone.
import Foundation
import Glibc
import Testing

@Suite("Reload")
struct ReloadTests {
    @Test("SIGHUP serves the new certificate to new connections while an old session keeps echoing; a broken file changes nothing")
    func sighup() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try makeSelfSignedCertificate("first.test", in: directory)
        let second = try makeSelfSignedCertificate("second.test", in: directory)
        let served = (directory.appendingPathComponent("served.pem").path, directory.appendingPathComponent("served.key").path)
        func serve(_ pair: (certificate: String, key: String)) throws {
            for (from, to) in [(pair.certificate, served.0), (pair.key, served.1)] {
                try? FileManager.default.removeItem(atPath: to)
                try FileManager.default.copyItem(atPath: from, toPath: to)
            }
        }
        try serve(first)
        let server = try ServerProcess(["--cert", served.0, "--key", served.1])
        let old = try TestClient(port: server.tlsPort, tls: true)
        #expect(try old.echo("before\n") == "before\n")
        #expect(try servedSubject(port: server.tlsPort, serverName: nil) == "subject=CN = first.test")
        let session = directory.appendingPathComponent("session").path
        _ = try sClient(port: server.tlsPort, ["-tls1_3", "-sess_out", session], until: "Post-Handshake New Session Ticket arrived")

        try serve(second)
        server.send(signal: SIGHUP)
        #expect(server.waitForLog("SIGHUP: reloaded TLS certificates"))
        #expect(try servedSubject(port: server.tlsPort, serverName: nil) == "subject=CN = second.test")
        #expect(try old.echo("still the old session\n") == "still the old session\n")
        // Ticket keys survive the reload: a ticket issued before it still resumes.
        #expect(try sClient(port: server.tlsPort, ["-tls1_3", "-sess_in", session], until: "Verify return code").contains("Reused, TLSv1.3"))

        try "not a certificate\n".write(toFile: served.0, atomically: true, encoding: .utf8)
        server.send(signal: SIGHUP)
        #expect(server.waitForLog("SIGHUP: reload failed, keeping the current certificates"))
        #expect(server.log.contains(served.0))
        #expect(try servedSubject(port: server.tlsPort, serverName: nil) == "subject=CN = second.test")
        #expect(server.isRunning)
    }
}
