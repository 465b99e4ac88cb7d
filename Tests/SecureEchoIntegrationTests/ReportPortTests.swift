// --report-port with real clients: the text report (s_client over TLS 1.3 and 1.2, gnutls-cli,
// Python), the JSON one (curl), fingerprints checked against the client's own computation,
// a ClientHello over two records, HTTP refusals and a stalled request; and, on the echo port,
// failed handshakes that name what the client offered.
import Foundation
import Glibc
import Testing

/// The `key: value` lines of a text report.
private func fields(_ report: String) -> [String: String] {
    var fields: [String: String] = [:]
    for line in report.split(separator: "\n") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        let key = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
        if fields[key] == nil { fields[key] = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces) }
    }
    return fields
}

/// Runs the independent-fingerprint client; returns its own figures and what the server sent.
private func selfFingerprinting(port: UInt16, split: Bool, alpn: String) throws -> (own: [String: String], reply: String) {
    let result = try runCommand("/usr/bin/env", ["python3", "-c", independentFingerprintScript, "\(port)", split ? "split" : "one", alpn])
    #expect(result.status == 0, "\(result.stderr)")
    let parts = result.stdout.components(separatedBy: "---\n")
    #expect(parts.count == 2, "\(result.stdout)")
    let own = fields(parts.first ?? "").reduce(into: [String: String]()) { out, field in
        out[String(field.key.dropFirst("independent_".count))] = field.value
    }
    return (own, parts.count == 2 ? parts[1] : "")
}

@Suite("Handshake report port")
struct ReportPortTests {
    @Test("openssl s_client over TLS 1.3 and 1.2: the text report, then the server closes")
    func opensslText() throws {
        let server = try ServerProcess(["--report-port", "0"])
        #expect(server.readyLine.contains(" report=127.0.0.1:\(server.reportPort)"), "\(server.readyLine)")
        let tls13 = fields(try sClient(port: server.reportPort, ["-servername", "localhost", "-tls1_3"], until: "client_hello_records:"))
        #expect(tls13["tls_version"] == "TLSv1.3")
        #expect(tls13["cipher"] == "TLS_AES_128_GCM_SHA256")
        #expect(tls13["group"] == "x25519")
        #expect(tls13["sni"] == "localhost" && tls13["alpn"] == "none" && tls13["resumed"] == "no")
        #expect(tls13["offered_versions"] == "TLSv1.3")
        #expect(tls13["ja4"]?.hasPrefix("t13d") == true, "\(tls13)")
        #expect(tls13["ja3_hash"]?.count == 32)
        #expect(tls13["key_share_groups"] == "x25519")
        #expect(tls13["extensions"]?.hasPrefix("server_name(0), ") == true)
        #expect(tls13["client_certificate"]?.hasPrefix("not requested") == true)
        #expect(tls13["hello_retry_request"] == "no")
        #expect(server.waitForLog("reason=\"report sent\""))

        let tls12 = fields(try sClient(port: server.reportPort, ["-tls1_2"], until: "client_hello_records:"))
        #expect(tls12["tls_version"] == "TLSv1.2")
        #expect(tls12["cipher"] == "ECDHE-ECDSA-AES128-GCM-SHA256" || tls12["cipher"]?.hasPrefix("ECDHE") == true, "\(tls12)")
        #expect(tls12["ja4"]?.hasPrefix("t12i") == true, "\(tls12)")  // no SNI to an address
        #expect(tls12["sni"] == "none")
        #expect(tls12["legacy_version"] == "TLSv1.2 (0x0303)")
    }

    @Test("the report port, which speaks first, still gives a TLS 1.3 ticket: the next connection reports resumed")
    func reportResumes() throws {
        let server = try ServerProcess(["--report-port", "0"])
        let session = FileManager.default.temporaryDirectory.appendingPathComponent("session-\(UUID().uuidString)").path
        defer { unlink(session) }
        // s_client prints the ticket and the report in either order: wait for both.
        func report(_ arguments: [String]) throws -> String {
            let client = try InteractiveProcess("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(server.reportPort)",
                                                                     "-no_ign_eof", "-tls1_3"] + arguments, mergeStderr: true)
            _ = client.read(until: "client_hello_records:", timeout: 10)
            let output = client.read(until: "Post-Handshake New Session Ticket arrived", timeout: 10)
            _ = client.finish()
            return output
        }
        let first = try report(["-sess_out", session])
        #expect(first.contains("Post-Handshake New Session Ticket arrived"), "\(first)")
        #expect(fields(first)["resumed"] == "no")
        let second = try report(["-sess_in", session])
        #expect(second.contains("Reused, TLSv1.3"), "\(second)")
        #expect(fields(second)["resumed"] == "yes")
    }

    @Test("A key share the server does not take: the report says a HelloRetryRequest happened")
    func helloRetry() throws {
        let server = try ServerProcess(["--report-port", "0"])
        // s_client sends a share for its first group only, which this server does not take.
        let report = fields(try sClient(port: server.reportPort, ["-groups", "X448:X25519"], until: "client_hello_records:"))
        #expect(report["hello_retry_request"] == "yes", "\(report)")
        #expect(report["group"] == "x25519")
        #expect(report["key_share_groups"] == "x448")  // the first hello's, which the fingerprint is of
    }

    @Test("gnutls-cli gets the text report")
    func gnutls() throws {
        let server = try ServerProcess(["--report-port", "0"])
        let result = try runCommand("/usr/bin/gnutls-cli", ["--insecure", "-p", "\(server.reportPort)", "localhost"], timeout: 20)
        let report = fields(result.stdout)
        #expect(report["tls_version"] == "TLSv1.3", "\(result.stdout)\n\(result.stderr)")
        #expect(report["ja4"]?.hasPrefix("t13d") == true)
        #expect(report["sni"] == "localhost")
        #expect(report["offered_groups"]?.contains("x25519") == true)
    }

    @Test("socat and ncat get the text report")
    func socatAndNcat() throws {
        let server = try ServerProcess(["--report-port", "0"])
        let socat = try runCommand("/usr/bin/socat", ["-", "OPENSSL:localhost:\(server.reportPort),verify=0"], timeout: 20)
        #expect(fields(socat.stdout)["tls_version"] == "TLSv1.3", "\(socat.stdout)\n\(socat.stderr)")
        #expect(fields(socat.stdout)["sni"] == "localhost")
        let ncat = try runCommand("/usr/bin/ncat", ["--ssl", "localhost", "\(server.reportPort)"], timeout: 20)
        #expect(fields(ncat.stdout)["tls_version"] == "TLSv1.3", "\(ncat.stdout)\n\(ncat.stderr)")
        #expect(fields(ncat.stdout)["ja4"]?.hasPrefix("t13d") == true)
    }

    @Test("Python's ssl: JA3, JA4 and JA4_r equal the client's own computation from the bytes it sent, in one record or two")
    func independentFingerprints() throws {
        let server = try ServerProcess(["--report-port", "0"])
        for split in [false, true] {
            let (own, reply) = try selfFingerprinting(port: server.reportPort, split: split, alpn: "none")
            let report = fields(reply)
            for key in ["ja3", "ja3_hash", "ja4", "ja4_r"] {
                #expect(report[key] == own[key], "\(key): server \(report[key] ?? "-") vs client \(own[key] ?? "-")")
            }
            #expect(report["client_hello_records"] == own["records"])
            #expect(report["client_hello_records"] == (split ? "2" : "1"))
            #expect(report["tls_version"] == "TLSv1.3")
        }
    }

    @Test("http/1.1 clients: GET / is JSON with the client hello and what was negotiated; 404, 405, HEAD")
    func curlJSON() throws {
        let server = try ServerProcess(["--report-port", "0"])
        let url = "https://localhost:\(server.reportPort)/"
        let response = try curl(url, ["-k"])
        #expect(response.status == 200)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])
        #expect((object["ja4"] as? String)?.hasPrefix("t13d") == true)
        #expect((object["ja3_hash"] as? String)?.count == 32)
        #expect((object["ja4_r"] as? String)?.contains("_") == true)
        let hello = try #require(object["client_hello"] as? [String: Any])
        #expect(hello["sni"] as? String == "localhost")
        #expect((hello["alpn"] as? [String])?.contains("http/1.1") == true)
        #expect((hello["supported_versions"] as? [String])?.first == "TLSv1.3")
        #expect((hello["cipher_suites"] as? [String])?.contains("TLS_AES_128_GCM_SHA256") == true)
        #expect((hello["extensions"] as? [String])?.first == "server_name")
        for key in ["legacy_version", "supported_groups", "key_share_groups", "signature_algorithms", "records"] {
            #expect(hello[key] != nil, "client_hello.\(key)")
        }
        let negotiated = try #require(object["negotiated"] as? [String: Any])
        #expect(negotiated["version"] as? String == "TLSv1.3")
        #expect(negotiated["alpn"] as? String == "http/1.1")
        #expect(negotiated["sni"] as? String == "localhost")
        #expect(negotiated["resumed"] as? Bool == false)
        #expect(negotiated["group"] as? String == "x25519")
        #expect(negotiated["client_certificate"] is NSNull)
        #expect((object["peer"] as? String)?.hasPrefix("127.0.0.1:") == true)

        #expect(try curl(url + "elsewhere", ["-k"]).status == 404)
        #expect(try curl(url, ["-k", "-X", "POST", "-d", "x"]).status == 405)
        let head = try runCommand("/usr/bin/curl", ["-sk", "-I", "--max-time", "10", url])
        #expect(head.stdout.hasPrefix("HTTP/1.1 200 OK\r\n") && head.stdout.contains("Content-Type: application/json"), "\(head.stdout)")

        // Python over http/1.1: its own JA4 is the JSON's.
        let (own, reply) = try selfFingerprinting(port: server.reportPort, split: false, alpn: "http/1.1")
        let body = reply.components(separatedBy: "\r\n\r\n").dropFirst().joined()
        let fromPython = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        #expect(fromPython["ja4"] as? String == own["ja4"])
        #expect(fromPython["ja3"] as? String == own["ja3"])
    }

    @Test("An http/1.1 client that never sends its request is closed at the handshake timeout; echo goes on meanwhile")
    func stalledRequest() throws {
        let server = try ServerProcess(["--report-port", "0", "--handshake-timeout", "1"])
        let script = """
        import socket, ssl, sys, time
        c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
        c.set_alpn_protocols(["http/1.1"])
        s = c.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="localhost")
        print("handshake", s.selected_alpn_protocol(), flush=True)
        start = time.monotonic()
        data = s.recv(100)
        print("closed after %.1f with %r" % (time.monotonic() - start, data), flush=True)
        """
        let stalled = try InteractiveProcess("/usr/bin/env", ["python3", "-c", script, "\(server.reportPort)"])
        #expect(stalled.read(until: "handshake http/1.1\n", timeout: 10).contains("handshake http/1.1"))
        let echo = try TestClient(port: server.tlsPort, tls: true)
        #expect(try echo.echo("still echoing\n") == "still echoing\n")
        let closed = stalled.read(until: "b''\n", timeout: 10)
        _ = stalled.finish()
        let seconds = closed.components(separatedBy: "closed after ").last?.split(separator: " ").first.flatMap { Double($0) } ?? -1
        #expect(seconds >= 0.5 && seconds < 5, "\(closed)")
        #expect(server.waitForLog("reason=\"idle timeout\""), "\(server.log)")
    }

    @Test("With --client-ca, the report names the client certificate and its verification")
    func clientCertificate() throws {
        let certs = try GeneratedCertificates()
        let server = try ServerProcess(certs.serverArguments + ["--client-ca", certs.path("ca.pem"), "--client-auth", "optional", "--report-port", "0"])
        let with = fields(try sClient(port: server.reportPort, certs.clientArguments, until: "client_hello_records:"))
        #expect(with["client_certificate"] == "/CN=secure-echo client (verification: ok)", "\(with)")
        let without = fields(try sClient(port: server.reportPort, [], until: "client_hello_records:"))
        #expect(without["client_certificate"] == "none presented")
    }
}

@Suite("Failed handshakes explain themselves")
struct HandshakeFailureLogTests {
    @Test("A TLS 1.1-only client: the close line names its offer and JA4; /metrics counts it by offered version")
    func oldClient() throws {
        let server = try ServerProcess(["--metrics-port", "0"])
        _ = try sClient(port: server.tlsPort, ["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"], until: "alert")
        #expect(server.waitForLog("offered_versions=TLSv1.1 ja4=t11i"), "\(server.log)")
        #expect(server.log.contains("reason=\"tls handshake failed: unsupported protocol"))
        #expect(!server.log.contains("offered_ciphers="))  // only at debug level

        let echo = try TestClient(port: server.tlsPort, tls: true)
        #expect(try echo.echo("modern\n") == "modern\n")
        echo.close()
        var page = ""
        for _ in 0..<50 {
            page = try curl("http://127.0.0.1:\(server.metricsPort)/metrics").body
            if sample(page, "secure_echo_tls_client_hellos_total{offered_max_version=\"TLSv1.3\"}") == 1 { break }
            usleep(100_000)
        }
        #expect(sample(page, "secure_echo_tls_client_hellos_total{offered_max_version=\"TLSv1.1\"}") == 1, "\(page)")
        #expect(sample(page, "secure_echo_tls_client_hellos_total{offered_max_version=\"TLSv1.3\"}") == 1)
    }

    @Test("At debug level: the offered ciphers and groups of a failure, and ja4= on every TLS close line; JSON has them as fields")
    func debugAndJSON() throws {
        let server = try ServerProcess(["--log-level", "debug", "--log-format", "json"])
        _ = try sClient(port: server.tlsPort, ["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"], until: "alert")
        #expect(server.waitForLog("\"offered_versions\":\"TLSv1.1\""), "\(server.log)")
        #expect(server.log.contains("\"offered_ciphers\":\"TLS_ECDHE_"))
        #expect(server.log.contains("\"offered_groups\":\"x25519,"))
        let echo = try TestClient(port: server.tlsPort, tls: true)
        #expect(try echo.echo("hi\n") == "hi\n")
        echo.close()
        #expect(server.waitForLog("\"ja4\":\"t13"), "\(server.log)")
    }
}
