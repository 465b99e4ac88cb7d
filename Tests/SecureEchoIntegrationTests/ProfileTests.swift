// --profile with real clients: for every profile, what openssl s_client, curl and Python's ssl
// report (the exact verify codes and messages the README's table promises), and the
// misbehaving peers measured from a Python client.
import Foundation
import Glibc
import Testing

/// One Python client against a profile, printing one line: `ok VERSION ECHO`, `verify CODE
/// MESSAGE`, or `error TYPE MESSAGE`. Modes: plain (verify, echo "hi"), tls12 / tls13 (that
/// version only), cert (present DIR/client.pem), eof (echo, then how the stream ended), reset
/// (after the handshake, what the socket says), stall (how long until the server closes),
/// slow (the pieces an echo of "hello" arrives in, and the gaps between them).
private let profileClientScript = #"""
import socket, ssl, sys, time
port, directory, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
context = ssl.create_default_context(cafile=directory + "/ca.pem")
context.verify_flags |= ssl.VERIFY_X509_STRICT
if mode == "tls12": context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
if mode == "tls13": context.minimum_version = ssl.TLSVersion.TLSv1_3
if mode == "cert": context.load_cert_chain(directory + "/client.pem", directory + "/client.key")
start = time.monotonic()
try:
    if mode == "reset":
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
        raw = socket.create_connection(("localhost", port))
        while True:
            try:
                tls.do_handshake(); break
            except ssl.SSLWantReadError:
                raw.sendall(outgoing.read()); incoming.write(raw.recv(65536))
        raw.sendall(outgoing.read())
        try:
            while raw.recv(65536): pass
            print("ok closed with a FIN")
        except ConnectionResetError:
            print("ok reset after", tls.version())
        sys.exit(0)
    raw = socket.create_connection(("localhost", port))
    raw.settimeout(20)
    s = context.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
    if mode == "slow":
        s.sendall(b"hello\n"); times, echo = [], b""
        while not echo.endswith(b"\n"):
            chunk = s.recv(100)
            if not chunk: break
            echo += chunk; times += [time.monotonic()] * len(chunk)
        gaps = [b - a for a, b in zip(times, times[1:])]
        print("ok %s in %d pieces, gaps %d to %d ms" % (echo.decode().strip(), len(set(times)), min(gaps) * 1000, max(gaps) * 1000))
        sys.exit(0)
    s.sendall(b"hi\n")
    echo = b""
    while not echo.endswith(b"\n"):
        chunk = s.recv(100)
        if not chunk: break
        echo += chunk
    if mode == "eof":
        try:
            rest = s.recv(100)
            print("ok", echo.decode().strip(), "then close_notify" if rest == b"" else "then more")
        except ssl.SSLEOFError:
            print("ok", echo.decode().strip(), "then EOF without close_notify")
    else:
        print("ok", s.version(), echo.decode().strip())
except ssl.SSLCertVerificationError as e:
    print("verify", e.verify_code, e.verify_message)
except Exception as e:
    print("error", type(e).__name__, e, "after %.1f s" % (time.monotonic() - start))
"""#

/// Expected outcomes, one row per certificate profile: s_client's verify line, curl's exit
/// code and message, Python's line.
private let certificateOutcomes: [(profile: String, sClient: String, curlStatus: Int32, curl: String, python: String)] = [
    ("good", "Verify return code: 0 (ok)", 1, "Received HTTP/0.9 when not allowed", "ok TLSv1.3 hi"),
    ("expired", "verify error:num=10:certificate has expired", 60, "SSL certificate problem: certificate has expired",
     "verify 10 certificate has expired"),
    ("not-yet-valid", "verify error:num=9:certificate is not yet valid", 60, "SSL certificate problem: certificate is not yet valid",
     "verify 9 certificate is not yet valid"),
    ("wrong-host", "verify error:num=62:hostname mismatch", 60,
     "SSL: no alternative certificate subject name matches target host name 'localhost'",
     "verify 62 Hostname mismatch, certificate is not valid for 'localhost'."),
    ("self-signed", "verify error:num=18:self-signed certificate", 60, "SSL certificate problem: self-signed certificate",
     "verify 18 self-signed certificate"),
    ("untrusted-root", "verify error:num=19:self-signed certificate in certificate chain", 60,
     "SSL certificate problem: self-signed certificate in certificate chain", "verify 19 self-signed certificate in certificate chain"),
    ("incomplete-chain", "verify error:num=20:unable to get local issuer certificate", 60,
     "SSL certificate problem: unable to get local issuer certificate", "verify 20 unable to get local issuer certificate"),
    ("reversed-chain", "Verify return code: 0 (ok)", 1, "Received HTTP/0.9 when not allowed", "ok TLSv1.3 hi"),
]

private final class ProfileServer {
    let directory: URL
    let server: ServerProcess
    private(set) var ports: [String: UInt16] = [:]

    init(_ arguments: [String] = ["--no-tls", "--no-plain"], profiles: [String] = ["all"]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("profiles-\(UUID().uuidString)")
        server = try ServerProcess(arguments + profiles.flatMap { ["--profile", $0] } + ["--profile-dir", directory.path],
                                   ports: false)
        for field in server.readyLine.split(separator: " ") where field.hasPrefix("profile-") {
            let parts = field.dropFirst("profile-".count).split(separator: "=")
            if parts.count == 2, let port = parts[1].split(separator: ":").last.flatMap({ UInt16($0) }) { ports[String(parts[0])] = port }
        }
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    var ca: String { directory.appendingPathComponent("ca.pem").path }

    func port(_ profile: String) -> UInt16 { ports[profile] ?? 0 }

    func python(_ profile: String, _ mode: String = "plain") throws -> String {
        let result = try runCommand("/usr/bin/env", ["python3", "-c", profileClientScript, "\(port(profile))", directory.path, mode], timeout: 30)
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + result.stderr
    }

    func sClient(_ profile: String, _ extra: [String] = [], until marker: String = "Verify return code") throws -> String {
        try SecureEchoIntegrationTests.sClient(port: port(profile), ["-CAfile", ca, "-verify_return_error", "-verify_hostname", "localhost",
                                                                   "-servername", "localhost"] + extra, input: "hi\n", until: marker)
    }
}

@Suite("Test profiles")
struct ProfileTests {
    @Test("Every certificate profile: s_client's verify code, curl's exit code and message, Python's error, exactly")
    func certificateProfiles() throws {
        let profiles = try ProfileServer()
        #expect(profiles.ports.count == 16, "\(profiles.server.readyLine)")
        for row in certificateOutcomes {
            let sClient = try profiles.sClient(row.profile)
            #expect(sClient.contains(row.sClient), "\(row.profile) s_client: \(sClient)")
            let curl = try runCommand("/usr/bin/curl", ["-sS", "--max-time", "10", "--cacert", profiles.ca,
                                                        "https://localhost:\(profiles.port(row.profile))/"])
            #expect(curl.status == row.curlStatus && curl.stderr.contains(row.curl), "\(row.profile) curl: \(curl.status) \(curl.stderr)")
            let python = try profiles.python(row.profile)
            #expect(python == row.python, "\(row.profile) python: \(python)")
        }
        // GnuTLS accepts the reversed chain as well.
        for profile in ["good", "reversed-chain"] {
            let gnutls = try runCommand("/usr/bin/gnutls-cli", ["--x509cafile", profiles.ca, "-p", "\(profiles.port(profile))", "localhost"],
                                        input: Array("hi\n".utf8), timeout: 20)
            #expect(gnutls.stdout.contains("The certificate is trusted"), "\(profile) gnutls-cli: \(gnutls.stdout)")
        }
        // good and reversed-chain verify in curl too: its error is about the echoed request, after TLS.
        let verbose = try runCommand("/usr/bin/curl", ["-sv", "--max-time", "10", "--cacert", profiles.ca,
                                                       "https://localhost:\(profiles.port("reversed-chain"))/"])
        #expect(verbose.stderr.contains("SSL certificate verify ok"), "\(verbose.stderr)")
    }

    @Test("The version profiles refuse the other version; client-cert-required refuses without DIR/client.pem and echoes with it")
    func versionsAndClientCertificates() throws {
        let profiles = try ProfileServer(profiles: ["tls1.2-only", "tls1.3-only", "client-cert-required"])
        #expect(try profiles.python("tls1.2-only") == "ok TLSv1.2 hi")
        #expect(try profiles.python("tls1.2-only", "tls13").hasPrefix("error SSLError [SSL: TLSV1_ALERT_PROTOCOL_VERSION]"))
        #expect(try profiles.sClient("tls1.2-only", ["-tls1_3"], until: "alert").contains("alert protocol version"))
        #expect(try profiles.python("tls1.3-only") == "ok TLSv1.3 hi")
        #expect(try profiles.python("tls1.3-only", "tls12").hasPrefix("error SSLError [SSL: TLSV1_ALERT_PROTOCOL_VERSION]"))
        #expect(try profiles.sClient("tls1.3-only", ["-tls1_2"], until: "alert").contains("alert protocol version"))

        #expect(try profiles.python("client-cert-required").hasPrefix("error SSLError [SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED]"))
        #expect(try profiles.sClient("client-cert-required", until: "alert").contains("alert certificate required"))
        // What curl says, as the README's table does: the version profiles verify (then the echo of
        // its request is no HTTP), client-cert-required refuses it.
        for (profile, status, message) in [("tls1.2-only", Int32(1), "Received HTTP/0.9 when not allowed"),
                                           ("tls1.3-only", 1, "Received HTTP/0.9 when not allowed"),
                                           ("client-cert-required", 56, "tlsv13 alert certificate required")] {
            let curl = try runCommand("/usr/bin/curl", ["-sS", "--max-time", "10", "--cacert", profiles.ca, "https://localhost:\(profiles.port(profile))/"])
            #expect(curl.status == status && curl.stderr.contains(message), "\(profile) curl: \(curl.status) \(curl.stderr)")
        }
        #expect(try profiles.python("client-cert-required", "cert") == "ok TLSv1.3 hi")
        let directory = profiles.directory.path
        let withCertificate = try profiles.sClient("client-cert-required", ["-cert", directory + "/client.pem", "-key", directory + "/client.key", "-quiet"],
                                                   until: "hi\n")
        #expect(withCertificate.contains("hi\n"))
        #expect(profiles.server.waitForLog("client=\"/CN=secure-echo profile client\""))
    }

    @Test("The misbehaving profiles: a stall until the handshake timeout, an alert, no close_notify, a reset")
    func misbehavingPeers() throws {
        let profiles = try ProfileServer(["--no-tls", "--no-plain", "--handshake-timeout", "1"],
                                         profiles: ["handshake-stall", "handshake-alert", "no-close-notify", "reset-after-handshake", "slow-echo"])
        let stall = try profiles.python("handshake-stall")
        #expect(stall.hasPrefix("error SSLEOFError"), "\(stall)")
        let seconds = stall.components(separatedBy: "after ").last.flatMap { Double($0.split(separator: " ")[0]) } ?? -1
        #expect(seconds >= 0.8 && seconds < 5, "\(stall)")
        #expect(profiles.server.waitForLog("reason=\"handshake timeout (stalled on purpose after "))

        #expect(try profiles.python("handshake-alert").hasPrefix("error SSLError [SSL: SSLV3_ALERT_HANDSHAKE_FAILURE]"))
        #expect(try profiles.sClient("handshake-alert", until: "alert").contains("alert handshake failure"))

        #expect(try profiles.python("no-close-notify", "eof") == "ok hi then EOF without close_notify")
        #expect(try profiles.python("reset-after-handshake", "reset") == "ok reset after TLSv1.3")

        // What s_client and curl print, as the README's table says.
        // The reset races the clients' first send: s_client meets it reading (after sending its stdin line)
        // or writing that line; curl in recv (56) or, when the RST beats its first send, in getpeername (55).
        for (profile, marker, sClients, curlStatuses, curl) in [
            ("handshake-stall", "unexpected eof while reading", ["unexpected eof while reading"], [Int32(35)], "SSL_connect: SSL_ERROR_SYSCALL"),
            ("handshake-alert", "alert handshake failure", ["alert handshake failure"], [35], "sslv3 alert handshake failure"),
            ("no-close-notify", "unexpected eof while reading", ["unexpected eof while reading"], [1], "Received HTTP/0.9 when not allowed"),
            ("reset-after-handshake", "errno=104", ["read:errno=104", "write:errno=104"], [56, 55], "onnect"),
        ] {
            let printed = try profiles.sClient(profile, until: marker)
            #expect(sClients.contains { printed.contains($0) }, "\(profile) s_client: \(printed)")
            let result = try runCommand("/usr/bin/curl", ["-sS", "--max-time", "10", "--cacert", profiles.ca,
                                                          "https://localhost:\(profiles.port(profile))/"])
            #expect(curlStatuses.contains(result.status) && result.stderr.contains(curl), "\(profile) curl: \(result.status) \(result.stderr)")
        }

        // One byte per 100 ms, and the server sleeps in between (a spin would cost it the whole 0.5 s).
        let cpuBefore = profiles.server.cpuSeconds()
        let slow = try profiles.python("slow-echo", "slow")
        #expect(slow.hasPrefix("ok hello in 6 pieces, gaps "), "\(slow)")
        let gaps = slow.components(separatedBy: "gaps ").last?.split(separator: " ").compactMap { Int($0) } ?? []
        #expect(gaps.count == 2 && gaps[0] >= 80 && gaps[1] < 1000, "\(slow)")
        #expect(profiles.server.cpuSeconds() - cpuBefore < 0.25)
        #expect(try profiles.sClient("slow-echo", ["-quiet"], until: "hi\n").contains("hi\n"))
    }

    @Test("--profile all with the normal ports in one process: every port echoes; the files are the root, a client pair (0600), nothing else")
    func allTogether() throws {
        let profiles = try ProfileServer(["--tls-port", "0", "--plain-port", "0"])
        #expect(profiles.server.readyLine.hasPrefix("ready tls=127.0.0.1:"))
        let tls = try TestClient(port: profiles.server.tlsPort, tls: true)
        #expect(try tls.echo("normal tls\n") == "normal tls\n")
        let plain = try TestClient(port: profiles.server.plainPort, tls: false)
        #expect(try plain.echo("normal plain\n") == "normal plain\n")
        for profile in ["good", "reversed-chain", "tls1.2-only", "tls1.3-only"] {
            #expect(try profiles.python(profile).hasPrefix("ok TLSv1."), "\(profile)")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: profiles.directory.path).sorted()
        #expect(files == ["ca.pem", "client.key", "client.pem"])
        let mode = try FileManager.default.attributesOfItem(atPath: profiles.directory.appendingPathComponent("client.key").path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test("--profile-ca: the profiles are issued by the given CA, and ca.pem is it")
    func givenAuthority() throws {
        let certs = try GeneratedCertificates()
        let profiles = try ProfileServer(["--no-tls", "--no-plain", "--profile-ca", certs.path("ca.pem"), "--profile-ca-key", certs.path("ca.key")],
                                         profiles: ["good"])
        let written = try String(contentsOfFile: profiles.ca, encoding: .utf8)
        let given = try String(contentsOfFile: certs.path("ca.pem"), encoding: .utf8)
        #expect(written.trimmingCharacters(in: .whitespacesAndNewlines) == given.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(try profiles.python("good") == "ok TLSv1.3 hi")
    }

    @Test("A reload (SIGHUP) re-reads the TLS port's certificate and keeps the profiles' CA")
    func reloadKeepsTheAuthority() throws {
        let certs = try GeneratedCertificates()
        let profiles = try ProfileServer(certs.serverArguments + ["--tls-port", "0", "--no-plain"], profiles: ["good"])
        let before = try String(contentsOfFile: profiles.ca, encoding: .utf8)
        profiles.server.send(signal: SIGHUP)
        #expect(profiles.server.waitForLog("SIGHUP: reloaded TLS certificates"), "\(profiles.server.log)")
        #expect(try String(contentsOfFile: profiles.ca, encoding: .utf8) == before)
        #expect(try profiles.python("good") == "ok TLSv1.3 hi")
    }

    @Test("Usage errors exit 64 naming the flag", arguments: [
        (["--profile", "good"], "--profile needs --profile-dir"),
        (["--profile", "nonsense", "--profile-dir", "/tmp/x"], "unknown profile 'nonsense'"),
        (["--profile", "good=99999", "--profile-dir", "/tmp/x"], "is not a port"),
        (["--profile", "good", "--profile", "good", "--profile-dir", "/tmp/x"], "--profile good given twice"),
        (["--profile-dir", "/tmp/x"], "need at least one --profile"),
        (["--profile", "good", "--profile-dir", "/tmp/x", "--profile-ca", "/tmp/ca.pem"], "--profile-ca and --profile-ca-key must be given together"),
    ])
    func usageErrors(_ arguments: [String], _ message: String) throws {
        let result = try runCommand(secureEchoBinary(), arguments)
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    @Test("An unwritable --profile-dir exits 1 naming it")
    func unwritableDirectory() throws {
        let result = try runCommand(secureEchoBinary(), ["--no-tls", "--no-plain", "--profile", "good", "--profile-dir", "/proc/no-such/dir"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("--profile-dir /proc/no-such/dir:"), "\(result.stderr)")
    }
}
