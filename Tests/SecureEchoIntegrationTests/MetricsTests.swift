// --metrics-port: /metrics scraped with curl after known traffic, checked exactly; the HTTP
// responder's refusals; the status page's content.
import Foundation
import Glibc
import Testing

/// `curl -s URL`, with the status code appended on its own last line.
func curl(_ url: String, _ extra: [String] = []) throws -> (status: Int, body: String) {
    let result = try runCommand("/usr/bin/curl", ["-s", "-w", "\n%{http_code}", "--max-time", "10"] + extra + [url])
    var lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
    let status = Int(lines.popLast() ?? "") ?? -1
    return (status, lines.joined(separator: "\n"))
}

/// The value of one sample (`name{labels}`) in a Prometheus text page.
func sample(_ page: String, _ series: String) -> Double? {
    page.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
}

@Suite("Metrics and status page")
struct MetricsTests {
    @Test("/metrics after known traffic: connections, bytes, handshakes and failures, exactly")
    func exactCounts() throws {
        let server = try ServerProcess(["--metrics-port", "0", "--threads", "2"])
        #expect(server.readyLine.contains(" metrics=127.0.0.1:"), "\(server.readyLine)")
        let url = "http://127.0.0.1:\(server.metricsPort)/metrics"
        for _ in 0..<3 {
            let plain = try TestClient(port: server.plainPort, tls: false)
            #expect(try plain.echo("abc\n") == "abc\n")
            plain.close()
        }
        for _ in 0..<2 {
            let tls = try TestClient(port: server.tlsPort, tls: true)
            #expect(try tls.echo("hello\n") == "hello\n")
            tls.close()
        }
        let garbage = try TestClient(port: server.tlsPort, tls: false)
        try garbage.send("GET / HTTP/1.0\r\n\r\n")
        _ = try? garbage.readToEnd(timeout: 10)
        garbage.close()

        // Closes are counted by the loops as they happen: wait until none is open.
        var page = ""
        let deadline = Date().addingTimeInterval(10)
        repeat {
            page = try curl(url).body
            if sample(page, #"secure_echo_connections_open{transport="tls"}"#) == 0,
               sample(page, #"secure_echo_connections_open{transport="plain"}"#) == 0 { break }
            usleep(50_000)
        } while Date() < deadline
        let expected: [(String, Double)] = [
            (#"secure_echo_connections_accepted_total{transport="plain"}"#, 3),
            (#"secure_echo_connections_accepted_total{transport="tls"}"#, 3),
            (#"secure_echo_connections_open{transport="plain"}"#, 0),
            (#"secure_echo_connections_open{transport="tls"}"#, 0),
            (#"secure_echo_received_bytes_total{transport="plain"}"#, 12),
            (#"secure_echo_sent_bytes_total{transport="plain"}"#, 12),
            (#"secure_echo_received_bytes_total{transport="tls"}"#, 12),
            (#"secure_echo_sent_bytes_total{transport="tls"}"#, 12),
            ("secure_echo_tls_handshakes_total", 2),
            ("secure_echo_tls_resumed_total", 0),
            (#"secure_echo_handshake_failures_total{reason="tls"}"#, 1),
            (#"secure_echo_handshake_failures_total{reason="timeout"}"#, 0),
            (#"secure_echo_tls_negotiated_total{version="TLSv1.3",cipher="TLS_AES_128_GCM_SHA256"}"#, 2),
            ("secure_echo_tls_handshake_duration_seconds_count", 2),
            (#"secure_echo_tls_handshake_duration_seconds_bucket{le="+Inf"}"#, 2),
            ("secure_echo_connections_refused_total", 0),
            ("secure_echo_proxy_headers_rejected_total", 0),
            ("secure_echo_log_lines_dropped_total", 0),
        ]
        for (series, value) in expected {
            #expect(sample(page, series) == value, "\(series) in:\n\(page)")
        }
        #expect(page.contains("# TYPE secure_echo_tls_handshake_duration_seconds histogram"))
    }

    @Test("each loop reports its wake-ups, events and pass lengths: a histogram that adds up")
    func loopPasses() throws {
        let server = try ServerProcess(["--metrics-port", "0", "--threads", "2"])
        let url = "http://127.0.0.1:\(server.metricsPort)/metrics"
        let started = Date()
        let client = try TestClient(port: server.plainPort, tls: false)
        for index in 0..<20 { #expect(try client.echo("line \(index)\n") == "line \(index)\n") }
        client.close()
        let page = try curl(url).body
        let elapsed = Date().timeIntervalSince(started)
        var wakeupsOfAll = 0.0
        for loop in 0..<2 {
            let label = "loop=\"\(loop)\""
            let wakeups = try #require(sample(page, "secure_echo_loop_wakeups_total{\(label)}"), "\(page)")
            let events = try #require(sample(page, "secure_echo_loop_events_total{\(label)}"))
            let count = try #require(sample(page, "secure_echo_loop_pass_duration_seconds_count{\(label)}"))
            let sum = try #require(sample(page, "secure_echo_loop_pass_duration_seconds_sum{\(label)}"))
            let buckets = page.split(separator: "\n").filter { $0.hasPrefix("secure_echo_loop_pass_duration_seconds_bucket{\(label),") }
                .compactMap { Double($0.split(separator: " ").last ?? "") }
            #expect(buckets.count == 12, "\(page)")
            #expect(buckets == buckets.sorted(), "cumulative buckets never decrease: \(buckets)")
            #expect(buckets.last == count)
            #expect(count == wakeups)
            // A loop that SO_REUSEPORT gave no client may not have woken at all.
            #expect((sum > 0) == (wakeups > 0) && sum < elapsed, "busy \(sum) s of \(elapsed) s in \(wakeups) wake-ups")
            #expect(events <= wakeups * 256)
            wakeupsOfAll += wakeups
        }
        // 20 echoes on one connection take at least 20 wake-ups of its loop (and the accept one).
        #expect(wakeupsOfAll >= 21, "\(page)")
        let served = page.split(separator: "\n").filter { $0.hasPrefix("secure_echo_loop_events_total{") }
            .compactMap { Double($0.split(separator: " ").last ?? "") }
        #expect(served.max() ?? 0 >= 20, "one loop saw the 20 readable events: \(served)")
    }

    @Test("other paths are 404, other methods 405, an oversized request 431; a slow request is cut at the handshake timeout")
    func refusals() throws {
        let server = try ServerProcess(["--metrics-port", "0", "--handshake-timeout", "1"])
        let base = "http://127.0.0.1:\(server.metricsPort)"
        #expect(try curl(base + "/nope").status == 404)
        #expect(try curl(base + "/metrics", ["-X", "POST"]).status == 405)
        #expect(try curl(base + "/metrics", ["-H", "X-Big: " + String(repeating: "a", count: 9000)]).status == 431)
        #expect(try curl(base + "/metrics", ["-I"]).status == 200)
        let start = Date()
        let slow = try TestClient(port: server.metricsPort, tls: false)
        try slow.send("GET /metrics HTTP/1.1\r\nHost: x\r\n")  // never finished
        #expect(try slow.readToEnd(timeout: 10).isEmpty)
        #expect(Date().timeIntervalSince(start) < 5)
        // Echo was never held up.
        let client = try TestClient(port: server.plainPort, tls: false)
        #expect(try client.echo("still echoing\n") == "still echoing\n")
    }

    @Test("the status page names the ports and the certificate fingerprint, and needs nothing from elsewhere")
    func statusPage() throws {
        let server = try ServerProcess(["--metrics-port", "0"])
        let page = try curl("http://127.0.0.1:\(server.metricsPort)/")
        #expect(page.status == 200)
        let fingerprint = try #require(server.log.split(separator: "\n").first { $0.contains("sha256 fingerprint") }?
            .split(separator: " ").last.map(String.init))
        #expect(page.body.contains(fingerprint))
        #expect(page.body.contains("openssl s_client -connect 127.0.0.1:\(server.tlsPort)"))
        #expect(page.body.contains("nc 127.0.0.1 \(server.plainPort)"))
        #expect(!page.body.contains("src=\"http") && !page.body.contains("href=\"http"), "no external assets")
    }

    @Test("headless Chromium renders the status page: fingerprint, ports, and a counter that moves with traffic")
    func rendered() throws {
        let chromium = "/usr/bin/chromium"
        try #require(FileManager.default.isExecutableFile(atPath: chromium), "Chromium is installed by scripts/test.sh")
        let server = try ServerProcess(["--metrics-port", "0"])
        let url = "http://127.0.0.1:\(server.metricsPort)/"
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        /// The DOM after the page's script has run (virtual time lets its first refresh finish).
        func render(_ extra: [String]) throws -> String {
            let result = try runCommand(chromium, ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                                   "--user-data-dir=\(profile.path)", "--virtual-time-budget=5000"] + extra + [url],
                                        timeout: 60)
            #expect(result.status == 0, "\(result.stderr.suffix(500))")
            return result.stdout
        }
        func accepted(_ dom: String) -> String? {
            dom.split(separator: "\n").first { $0.contains("id=\"accepted\"") }
                .flatMap { $0.split(separator: ">").dropLast().last }.map { String($0.split(separator: "<").first ?? "") }
        }
        let before = try render(["--dump-dom"])
        let fingerprint = try #require(server.log.split(separator: "\n").first { $0.contains("sha256 fingerprint") }?
            .split(separator: " ").last.map(String.init))
        #expect(before.contains(fingerprint))
        #expect(before.contains("<b id=\"tls-port\">\(server.tlsPort)</b>") && before.contains("<b id=\"plain-port\">\(server.plainPort)</b>"))
        #expect(before.contains("openssl s_client -connect 127.0.0.1:\(server.tlsPort)"), "the script filled in the host")
        #expect(accepted(before) == "0 / 0", "\(before)")
        for _ in 0..<2 {
            let client = try TestClient(port: server.tlsPort, tls: true)
            #expect(try client.echo("seen\n") == "seen\n")
            client.close()
        }
        let plain = try TestClient(port: server.plainPort, tls: false)
        #expect(try plain.echo("seen\n") == "seen\n")
        plain.close()
        let after = try render(["--dump-dom"])
        #expect(accepted(after) == "2 / 1", "\(after)")
        let screenshot = profile.appendingPathComponent("status.png")
        _ = try render(["--window-size=900,900", "--screenshot=\(screenshot.path)"])
        let png = try Data(contentsOf: screenshot)
        #expect(png.count > 10_000 && png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "a PNG of the page")
    }
}
