// The clients people actually point at an echo server: openssl s_client, telnet, nc.
import Foundation
import Testing

private let pollers = ["epoll", "poll", "io_uring"]

@Suite("Real clients")
struct RealClientTests {
    @Test("openssl s_client echoes exactly over TLS 1.2 and 1.3, with and without -crlf",
          arguments: pollers, ["-tls1_2", "-tls1_3"])
    func sClient(poller: String, version: String) throws {
        let server = try ServerProcess(["--poller", poller])
        for crlf in [false, true] {
            let client = try InteractiveProcess("/usr/bin/openssl", [
                "s_client", "-connect", "127.0.0.1:\(server.tlsPort)", "-quiet", "-no_ign_eof", version,
            ] + (crlf ? ["-crlf"] : []))
            client.write("Hola Mundo\n")
            let expected = crlf ? "Hola Mundo\r\n" : "Hola Mundo\n"
            let first = client.read(until: expected)
            client.write("second line\n")
            let both = client.read(until: expected + (crlf ? "second line\r\n" : "second line\n"))
            #expect(first == expected)
            #expect(both == expected + (crlf ? "second line\r\n" : "second line\n"))
            _ = client.finish()
        }
        let protocolName = version == "-tls1_2" ? "TLSv1.2" : "TLSv1.3"
        #expect(server.waitForLog("tls_version=\(protocolName) cipher="))
    }

    @Test("telnet under expect: the typed line comes back from the server", arguments: pollers)
    func telnet(poller: String) throws {
        let server = try ServerProcess(["--poller", poller, "--no-tls"])
        // The terminal echoes what is typed, so seeing the line once proves nothing:
        // expect requires it twice, and the server's byte counts confirm the echo.
        let script = """
            set timeout 10
            spawn telnet 127.0.0.1 \(server.plainPort)
            expect "Escape character"
            send "Hola mundo\\r"
            expect {
                -re "Hola mundo\\r\\n.*Hola mundo\\r\\n" {}
                timeout { exit 2 }
            }
            send "\\035"
            expect "telnet>"
            send "quit\\r"
            expect eof
            exit 0
            """
        let result = try runCommand("/usr/bin/expect", ["-c", script], timeout: 30)
        #expect(result.status == 0, "expect output: \(result.stdout)")
        #expect(server.waitForLog("bytes_in=12 bytes_out=12"))
    }

    @Test("nc with LF-only lines, and a last line without newline echoed at EOF", arguments: pollers)
    func netcat(poller: String) throws {
        let server = try ServerProcess(["--poller", poller, "--no-tls"])
        let input = "first\nsecond\nno newline"
        let result = try runCommand("/bin/nc.openbsd", ["-N", "127.0.0.1", "\(server.plainPort)"], input: Array(input.utf8))
        #expect(result.status == 0)
        #expect(result.stdout == input)
    }
}
