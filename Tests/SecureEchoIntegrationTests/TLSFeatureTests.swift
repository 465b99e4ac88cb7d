// Client certificates, resumption, key logging and ALPN, seen by real clients.
import Foundation
import Glibc
import Testing
@testable import SecureEcho
@testable import SecureEchoLoop
@testable import SecureEchoSystem
@testable import SecureEchoTLS

/// A fresh CA, server and client certificate from scripts/gen-certs.sh, removed on deinit.
final class GeneratedCertificates {
    let directory: URL
    init(_ extra: [String] = []) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("certs-\(UUID().uuidString)")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/gen-certs.sh").path
        let made = try runCommand(script, extra + ["--out", directory.path])
        guard made.status == 0 else { throw SpawnError(what: "gen-certs.sh: \(made.stderr)") }
    }
    deinit { try? FileManager.default.removeItem(at: directory) }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    var serverArguments: [String] { ["--cert", path("server.pem"), "--key", path("server.key")] }
    var clientArguments: [String] { ["-cert", path("client.pem"), "-key", path("client.key")] }
}

/// Runs `openssl s_client` against the TLS port, sends `input`, reads until `marker`, then ends it.
func sClient(port: UInt16, _ arguments: [String], input: String = "", until marker: String) throws -> String {
    let client = try InteractiveProcess("/usr/bin/openssl",
                                        ["s_client", "-connect", "127.0.0.1:\(port)", "-no_ign_eof"] + arguments,
                                        mergeStderr: true)
    if !input.isEmpty { client.write(input) }
    let output = client.read(until: marker, timeout: 10)
    _ = client.finish()
    return output
}

@Suite("Client certificates")
struct ClientCertificateTests {
    @Test("--client-ca: a verified client echoes and is logged by subject; none or an unknown CA is refused")
    func required() throws {
        let certs = try GeneratedCertificates()
        let stranger = try GeneratedCertificates()
        let server = try ServerProcess(certs.serverArguments + ["--client-ca", certs.path("ca.pem")])

        let accepted = try sClient(port: server.tlsPort, certs.clientArguments + ["-quiet"], input: "mutual\n", until: "mutual\n")
        #expect(accepted.contains("mutual\n"))
        #expect(server.waitForLog("client=\"/CN=secure-echo client\""))

        let anonymous = try sClient(port: server.tlsPort, ["-quiet"], input: "x\n", until: "alert")
        #expect(anonymous.contains("certificate required"))
        #expect(server.waitForLog("peer did not return a certificate"))

        let unknown = try sClient(port: server.tlsPort, stranger.clientArguments + ["-quiet"], input: "x\n", until: "alert")
        #expect(unknown.contains("unknown ca"))
        #expect(server.waitForLog("peer certificate: unable to get local issuer certificate"))

        // Signed by the right CA, but expired yesterday.
        let request = certs.path("expired.csr"), expiredKey = certs.path("expired.key"), expired = certs.path("expired.pem")
        #expect(try runCommand("/usr/bin/openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                                    "-subj", "/CN=expired client", "-keyout", expiredKey, "-out", request]).status == 0)
        #expect(try runCommand("/usr/bin/openssl", ["x509", "-req", "-in", request, "-CA", certs.path("ca.pem"), "-CAkey", certs.path("ca.key"),
                                                    "-CAcreateserial", "-days", "-1", "-out", expired]).status == 0)
        let late = try sClient(port: server.tlsPort, ["-cert", expired, "-key", expiredKey, "-quiet"], input: "x\n", until: "alert")
        #expect(late.contains("certificate expired"))
        #expect(server.waitForLog("peer certificate: certificate has expired"))
    }

    @Test("--client-auth optional accepts a client without a certificate")
    func optional() throws {
        let certs = try GeneratedCertificates()
        let server = try ServerProcess(certs.serverArguments + ["--client-ca", certs.path("ca.pem"), "--client-auth", "optional"])
        let anonymous = try TestClient(port: server.tlsPort, tls: true)
        #expect(try anonymous.echo("no certificate\n") == "no certificate\n")
        let withCertificate = try sClient(port: server.tlsPort, certs.clientArguments + ["-quiet"], input: "with\n", until: "with\n")
        #expect(withCertificate.contains("with\n"))
    }

    @Test("gnutls-cli with a client certificate, and resuming its session")
    func gnutls() throws {
        let certs = try GeneratedCertificates()
        let server = try ServerProcess(certs.serverArguments + ["--client-ca", certs.path("ca.pem")])
        let client = try InteractiveProcess("/usr/bin/gnutls-cli", [
            "--x509cafile", certs.path("ca.pem"), "--x509certfile", certs.path("client.pem"),
            "--x509keyfile", certs.path("client.key"), "-p", "\(server.tlsPort)", "--resume", "localhost",
        ], mergeStderr: true)
        let resumed = client.read(until: "*** This is a resumed session")
        client.write("gnutls echo\n")
        // gnutls-cli prints only what it receives (stdin is a pipe, so nothing is echoed locally).
        let output = client.read(until: "gnutls echo\n")
        _ = client.finish()
        #expect(resumed.contains("*** This is a resumed session"))
        #expect(output.contains("gnutls echo\n"))
        #expect(server.waitForLog("resumed=yes client=\"/CN=secure-echo client\""))
    }
}

@Suite("Session resumption")
struct ResumptionTests {
    private func newThenReused(port: UInt16, version: String) throws -> (String, String) {
        let session = FileManager.default.temporaryDirectory.appendingPathComponent("session-\(UUID().uuidString)").path
        defer { unlink(session) }
        // TLS 1.3 tickets arrive after the handshake: wait for one before ending the client.
        let marker = version == "-tls1_3" ? "Post-Handshake New Session Ticket arrived" : "Verify return code"
        let first = try sClient(port: port, [version, "-sess_out", session], until: marker)
        let second = try sClient(port: port, [version, "-sess_in", session], until: "Verify return code")
        return (first, second)
    }

    @Test("s_client -sess_out / -sess_in reports Reused", arguments: ["-tls1_2", "-tls1_3"])
    func reused(version: String) throws {
        let server = try ServerProcess([])
        let (first, second) = try newThenReused(port: server.tlsPort, version: version)
        #expect(first.contains("New, TLSv1."))
        #expect(second.contains("Reused, TLSv1."))
        #expect(server.waitForLog("resumed=yes"))
    }

    @Test("s_client -reconnect resumes TLS 1.2 sessions, and --no-resumption stops it", arguments: [false, true])
    func reconnect(disabled: Bool) throws {
        let server = try ServerProcess(disabled ? ["--no-resumption"] : [])
        // stdin closed at once: s_client reconnects right after each handshake, then ends.
        let output = try runCommand("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(server.tlsPort)", "-tls1_2", "-reconnect"]).stdout
        let reused = output.components(separatedBy: "Reused, TLSv1.2").count - 1
        let new = output.components(separatedBy: "New, TLSv1.2").count - 1
        #expect(reused + new == 6)
        #expect(reused == (disabled ? 0 : 5))
    }

    @Test("--no-resumption sends no TLS 1.3 session tickets")
    func noTickets() throws {
        let server = try ServerProcess(["--no-resumption"])
        let client = try InteractiveProcess("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(server.tlsPort)", "-tls1_3"], mergeStderr: true)
        #expect(client.read(until: "Verify return code").contains("New, TLSv1.3"))
        // Tickets follow the handshake at once when they are sent at all.
        #expect(!client.read(until: "Post-Handshake New Session Ticket arrived", timeout: 1).contains("Post-Handshake New Session Ticket"))
        _ = client.finish()
    }
}

@Suite("Key log and ALPN")
struct KeyLogAndALPNTests {
    @Test("--keylog writes NSS key-log lines for TLS 1.2 and 1.3 to a mode-600 file, with a loud warning")
    func keylog() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("keylog-\(UUID().uuidString)").path
        defer { unlink(path) }
        let server = try ServerProcess(["--keylog", path])
        #expect(server.log.contains("KEY LOGGING IS ON"))
        for maxVersion in [TLSVersion.tls12, .tls13] {
            let client = try TestClient(port: server.tlsPort, tls: true, maxVersion: maxVersion)
            #expect(try client.echo("k\n") == "k\n")
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        let hex = { (s: Substring, count: Int) in s.count == count && s.allSatisfy(\.isHexDigit) }
        var labels = Set<String>()
        for line in lines {
            let fields = line.split(separator: " ")
            #expect(fields.count == 3, "\(line)")
            guard fields.count == 3 else { continue }
            labels.insert(String(fields[0]))
            #expect(hex(fields[1], 64), "client random: \(line)")
            #expect(fields[0] == "CLIENT_RANDOM" ? hex(fields[2], 96) : hex(fields[2], 96) || hex(fields[2], 64), "secret: \(line)")
        }
        // TLS 1.2 logs the master secret; TLS 1.3 logs its traffic secrets.
        #expect(labels.isSuperset(of: ["CLIENT_RANDOM", "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                                       "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"]))
    }

    @Test("SSLKEYLOGFILE in the environment turns key logging on too")
    func keylogFromEnvironment() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("keylog-\(UUID().uuidString)").path
        defer { unlink(path) }
        let result = try runCommand("/usr/bin/env", ["SSLKEYLOGFILE=\(path)", secureEchoBinary(), "--tls-port", "0", "--no-plain", "--max-line", "0"])
        #expect(result.status == 64)  // refused before anything starts; now the real run:
        let server = try ServerProcess(["--no-plain"], environment: ["SSLKEYLOGFILE": path])
        let client = try TestClient(port: server.tlsPort, tls: true)
        #expect(try client.echo("e\n") == "e\n")
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("SERVER_TRAFFIC_SECRET_0 "))
        #expect(server.log.contains("KEY LOGGING IS ON"))
    }

    @Test("--alpn: the server's preference among what the client offers is chosen and logged; no overlap is refused")
    func alpn() throws {
        let server = try ServerProcess(["--alpn", "echo/1", "--alpn", "h2"])
        let chosen = try sClient(port: server.tlsPort, ["-alpn", "h2,echo/1"], until: "ALPN protocol")
        #expect(chosen.contains("ALPN protocol: echo/1"))
        #expect(server.waitForLog("alpn=echo/1 alpn_offered=h2,echo/1"))
        let refused = try sClient(port: server.tlsPort, ["-alpn", "spdy/3"], until: "alert")
        #expect(refused.contains("no application protocol"))
        let without = try TestClient(port: server.tlsPort, tls: true)
        #expect(try without.echo("no alpn\n") == "no alpn\n")
    }
}

@Suite("Key-exchange groups")
struct GroupTests {
    /// TLS 1.3: the group is the key share alone. (Under TLS 1.2 a client's groups also say
    /// which curves it accepts for ECDSA certificates, so a P-256 certificate needs P-256 there.)
    @Test("the default groups are Mozilla's intermediate set: X25519, P-256 and P-384 negotiate, X448 and P-521 do not",
          arguments: [("X25519", true), ("P-256", true), ("P-384", true), ("X448", false), ("P-521", false)])
    func defaults(group: String, accepted: Bool) throws {
        let server = try ServerProcess([])
        let output = try sClient(port: server.tlsPort, ["-groups", group, "-tls1_3", "-quiet"], input: "g\n",
                                 until: accepted ? "g\n" : "alert")
        if accepted {
            #expect(output.hasSuffix("g\n"), "\(group): \(output)")
        } else {
            #expect(!output.hasSuffix("g\n") && output.contains("alert handshake failure"), "\(group): \(output)")
        }
        // TLS 1.2 ECDHE over X25519, with the certificate's curve offered too.
        #expect(try sClient(port: server.tlsPort, ["-groups", "X25519:P-256", "-tls1_2", "-quiet"], input: "g\n", until: "g\n")
                .hasSuffix("g\n"))
    }

    @Test("--groups replaces the list")
    func custom() throws {
        let server = try ServerProcess(["--groups", "P-521"])
        #expect(try sClient(port: server.tlsPort, ["-groups", "P-521", "-tls1_3", "-quiet"], input: "g\n", until: "g\n").hasSuffix("g\n"))
        #expect(!(try sClient(port: server.tlsPort, ["-groups", "X25519", "-tls1_3", "-quiet"], input: "g\n", until: "alert")).hasSuffix("g\n"))
    }
}
