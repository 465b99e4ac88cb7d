// The CLI contract: exit 64 for bad usage, exit 1 naming the file or host:port at fault.
import Foundation
import Testing

@Suite("Command line")
struct CommandLineTests {
    @Test("bad flags exit 64 with a usage message", arguments: [
        ["--mode", "bogus"],
        ["--tls-port", "70000"],
        ["--poller", "kqueue"],
        ["--max-line", "0"],
        ["--cert", "only-a-cert.pem"],
        ["--no-tls", "--no-plain"],
        ["--idle-timeout", "-1"],
        ["--no-such-flag"],
        ["--groups", "X25519:NoSuchGroup"],
        ["--proxy-protocol", "v3"],
        ["--log-format", "xml"],
    ])
    func badUsage(arguments: [String]) throws {
        let result = try runCommand(secureEchoBinary(), arguments)
        #expect(result.status == 64)
        #expect(result.stderr.contains("Usage:") || result.stderr.contains("Error:"))
    }

    @Test("--version names secure-echo's version and the OpenSSL it runs with and was built with")
    func version() throws {
        let result = try runCommand(secureEchoBinary(), ["--version"])
        #expect(result.status == 0)
        let line = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(line.hasPrefix("secure-echo 0."), "\(line)")
        #expect(line.contains(", OpenSSL 3.") && line.contains("(built with OpenSSL 3."), "\(line)")
    }

    @Test("--help goes to stdout with exit 0; a usage error goes to stderr alone")
    func helpAndErrorStreams() throws {
        let help = try runCommand(secureEchoBinary(), ["--help"])
        #expect(help.status == 0 && help.stderr.isEmpty)
        #expect(help.stdout.hasPrefix("OVERVIEW: TLS and plain TCP echo server") && help.stdout.contains("--tls-port"), "\(help.stdout)")
        let bad = try runCommand(secureEchoBinary(), ["--mode", "bogus"])
        #expect(bad.status == 64 && bad.stdout.isEmpty)
        #expect(bad.stderr.hasPrefix("Error: ") && bad.stderr.hasSuffix("\n"), "\(bad.stderr)")
    }

    @Test("an unknown --groups entry is named in the usage error")
    func badGroups() throws {
        let result = try runCommand(secureEchoBinary(), ["--groups", "X25519:NoSuchGroup"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--groups 'X25519:NoSuchGroup'"), "\(result.stderr)")
    }

    @Test("a missing certificate exits 1 naming the file")
    func missingCertificate() throws {
        let result = try runCommand(secureEchoBinary(), [
            "--tls-port", "0", "--plain-port", "0", "--cert", "/nonexistent/server.pem", "--key", "/nonexistent/server.key",
        ])
        #expect(result.status == 1)
        #expect(result.stderr.contains("/nonexistent/server.pem"))
        #expect(result.stderr.split(separator: "\n").count == 1, "one line: \(result.stderr)")
    }

    @Test("a certificate and a key that do not match exit 1 naming both")
    func mismatchedKey() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mismatch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let cert = directory.appendingPathComponent("a.pem").path
        let key = directory.appendingPathComponent("a.key").path
        let otherKey = directory.appendingPathComponent("b.key").path
        let made = try runCommand("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
        ])
        #expect(made.status == 0)
        #expect(try runCommand("/usr/bin/openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", otherKey]).status == 0)

        let mismatch = try runCommand(secureEchoBinary(), ["--tls-port", "0", "--plain-port", "0", "--cert", cert, "--key", otherKey])
        #expect(mismatch.status == 1)
        #expect(mismatch.stderr.contains(otherKey) && mismatch.stderr.contains(cert))

        let notPEM = try runCommand(secureEchoBinary(), ["--tls-port", "0", "--plain-port", "0", "--cert", otherKey, "--key", key])
        #expect(notPEM.status == 1)
        #expect(notPEM.stderr.contains(otherKey))

        let server = try ServerProcess(["--cert", cert, "--key", key])
        let client = try TestClient(port: server.tlsPort, tls: true)
        #expect(try client.echo("with a file certificate\n") == "with a file certificate\n")
    }

    @Test("a port in use exits 1 naming host:port")
    func portInUse() throws {
        let first = try ServerProcess(["--no-tls"])
        let result = try runCommand(secureEchoBinary(), ["--no-tls", "--plain-port", "\(first.plainPort)"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("127.0.0.1:\(first.plainPort)"))
        #expect(result.stderr.contains("in use"))
    }

    @Test("the ready line names both listeners; IPv6 hosts are bracketed")
    func readyLine() throws {
        let server = try ServerProcess([])
        #expect(server.readyLine == "ready tls=127.0.0.1:\(server.tlsPort) plain=127.0.0.1:\(server.plainPort)")
        let v6 = try ServerProcess(["--host", "::1", "--no-tls"])
        #expect(v6.readyLine == "ready plain=[::1]:\(v6.plainPort)")
        let client = try TestClient(port: v6.plainPort, tls: false, host: "::1")
        #expect(try client.echo("over IPv6\n") == "over IPv6\n")
    }

    @Test("the ephemeral certificate's fingerprint is logged and matches what is served")
    func fingerprint() throws {
        let server = try ServerProcess(["--no-plain"])
        #expect(server.waitForLog("sha256 fingerprint"))
        let served = try runCommand("/bin/sh", ["-c",
            "openssl s_client -connect 127.0.0.1:\(server.tlsPort) </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256"])
        let fingerprint = served.stdout.split(separator: "=").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? "?"
        #expect(fingerprint.count == 95)
        #expect(server.log.contains(fingerprint))
    }
}

@Suite("Addresses")
struct AddressTests {
    @Test("--host :: alone serves IPv4 and IPv6 clients on both ports; IPv4 peers are logged as IPv4")
    func dualStack() throws {
        let server = try ServerProcess(["--host", "::"])
        #expect(server.readyLine == "ready tls=[::]:\(server.tlsPort) plain=[::]:\(server.plainPort)")
        for (host, tls) in [("127.0.0.1", true), ("::1", true), ("127.0.0.1", false), ("::1", false)] {
            let client = try TestClient(port: server.port(tls: tls), tls: tls, host: host)
            #expect(try client.echo("via \(host)\n") == "via \(host)\n")
        }
        #expect(server.waitForLog("accepted peer=127.0.0.1:"))
        #expect(server.waitForLog("accepted peer=[::1]:"))
    }

    @Test("--host given twice listens on both addresses, on the same OS-chosen port")
    func severalHosts() throws {
        let server = try ServerProcess(["--host", "127.0.0.1", "--host", "::1"])
        #expect(server.readyLine == "ready tls=127.0.0.1:\(server.tlsPort) tls=[::1]:\(server.tlsPort) plain=127.0.0.1:\(server.plainPort) plain=[::1]:\(server.plainPort)")
        for host in ["127.0.0.1", "::1"] {
            let client = try TestClient(port: server.plainPort, tls: false, host: host)
            #expect(try client.echo("to \(host)\n") == "to \(host)\n")
        }
    }
}
