// What thousands of connections of every kind leave behind (nothing), what many clients
// racing for the last connection slots get (exactly the limit), and what a peer flooding a
// connection the server is closing costs the others (nothing but its turn).
import Foundation
import Glibc
import Testing
@testable import SecureEcho
@testable import SecureEchoLoop
@testable import SecureEchoSystem
@testable import SecureEchoTLS

/// Open descriptors of a process, from /proc.
private func openDescriptors(_ pid: pid_t) -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
}

@Suite("Churn and races")
struct ChurnTests {
    @Test("2,000 mixed connections (echo, garbage, resets, half-closes, timeouts) leave the descriptor count where it was")
    func descriptorsBackToBaseline() throws {
        let server = try ServerProcess(["--threads", "2", "--handshake-timeout", "1", "--log-level", "warning"])
        let baseline = openDescriptors(server.pid)
        #expect(baseline > 0)
        let hello = try HostileInputTests.truncatedClientHello()
        // Silent TLS clients, held open until the handshake timeout closes them.
        let silent = try (0..<100).map { _ in try TestClient(port: server.tlsPort, tls: false) }
        for round in 0..<100 {
            for i in 0..<6 {
                let plain = try TestClient(port: server.plainPort, tls: false)
                #expect(try plain.echo("round \(round) \(i)\n") == "round \(round) \(i)\n")
                plain.close()
            }
            for _ in 0..<3 {
                let tls = try TestClient(port: server.tlsPort, tls: true)
                #expect(try tls.echo("tls\n") == "tls\n")
                tls.close()
            }
            for _ in 0..<3 {  // not TLS at all: the handshake fails
                let garbage = try TestClient(port: server.tlsPort, tls: false)
                try garbage.send("GET / HTTP/1.0\r\n\r\n")
                _ = try garbage.readToEnd(timeout: 10)
                garbage.close()
            }
            for _ in 0..<3 {  // reset with a line unfinished
                let reset = try TestClient(port: server.plainPort, tls: false)
                try reset.send("unfinished")
                reset.resetAbruptly()
            }
            for _ in 0..<2 {  // reset in the middle of a ClientHello
                let reset = try TestClient(port: server.tlsPort, tls: false)
                _ = try reset.writeOnce(ArraySlice(hello))
                reset.resetAbruptly()
            }
            for _ in 0..<2 {  // half-closed: the partial line comes back, then end of stream
                let half = try TestClient(port: server.plainPort, tls: false)
                try half.send("half")
                try half.shutdownWrite()
                #expect(String(decoding: try half.readToEnd(timeout: 10), as: UTF8.self) == "half")
                half.close()
            }
        }
        for client in silent {
            _ = try client.readToEnd(timeout: 10)  // the server closes each at its handshake timeout
            client.close()
        }
        let deadline = Date().addingTimeInterval(10)
        var now = openDescriptors(server.pid)
        while now != baseline && Date() < deadline {
            usleep(20_000)
            now = openDescriptors(server.pid)
        }
        #expect(now == baseline, "descriptors: \(baseline) at start, \(now) after 2,000 connections")
        let fresh = try TestClient(port: server.plainPort, tls: false)
        #expect(try fresh.echo("still here\n") == "still here\n")
    }

    @Test("200 clients racing from 8 threads for 20 slots on 2 loops: exactly 20 are served")
    func maxConnectionsRace() throws {
        let server = try ServerProcess(["--threads", "2", "--max-connections", "20", "--log-level", "warning"])
        let port = server.plainPort
        // Each thread connects its 25 clients as fast as it can and holds every one, so all
        // 200 arrive while the slots are being taken.
        let outcomes = Locked<[String]>([])
        let threads = (0..<8).map { _ in
            Thread {
                var held: [TestClient] = []
                for _ in 0..<25 { if let client = try? TestClient(port: port, tls: false) { held.append(client) } }
                var results: [String] = []
                for client in held {
                    // A refused client gets the busy line at once, then end of stream; an
                    // admitted one gets nothing until it speaks, then its echo.
                    let first = (try? client.receiveAvailable(timeout: 0.3)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
                    if client.sawEndOfStream {
                        results.append(first)
                    } else {
                        let echo = (try? client.echo([UInt8]("x\n".utf8), expecting: 2, timeout: 10)).map { String(decoding: $0, as: UTF8.self) }
                        results.append(first + (echo ?? "?"))
                    }
                }
                outcomes.withLock { $0 += results }
                Thread.sleep(forTimeInterval: 1)  // hold the admitted ones while the others are counted
                for client in held { client.close() }
            }
        }
        threads.forEach { $0.start() }
        let deadline = Date().addingTimeInterval(60)
        while outcomes.withLock({ $0.count }) < 200 && Date() < deadline { usleep(20_000) }
        let all = outcomes.withLock { $0 }
        #expect(all.count == 200)
        #expect(all.filter { $0 == "x\n" }.count == 20, "served: \(all.filter { $0 == "x\n" }.count)")
        #expect(all.filter { $0 == "ERROR server busy\r\n" }.count == 180, "\(Set(all))")
    }

    @Test("a peer flooding a connection the server is closing waits its turn: the others keep echoing, the flood is cut at the grace")
    func floodDuringDrain() throws {
        let server = try ServerProcess(["--threads", "1", "--idle-timeout", "1", "--mode", "stream", "--log-level", "info"])
        let port = server.plainPort
        let flooded = Locked<(sawEnd: Bool, sent: Int, cutAfter: Double?)>((false, 0, nil))
        // The flooder says nothing until the idle timeout ends the server's side (FIN), then
        // writes as fast as the kernel takes it, never reading, until the server closes.
        let flooder = Thread {
            guard let client = try? TestClient(port: port, tls: false),
                  (try? client.readToEnd(timeout: 10)) != nil else { return }
            flooded.withLock { $0.sawEnd = true }
            let start = Date()
            let block = [UInt8](repeating: 0x41, count: 65536)
            while Date().timeIntervalSince(start) < 20 {
                guard let n = try? client.writeOnce(block[...]) else { break }
                flooded.withLock { $0.sent += n }
                if n == 0 { usleep(100) }
            }
            flooded.withLock { $0.cutAfter = Date().timeIntervalSince(start) }
            client.close()
        }
        flooder.start()
        let deadline = Date().addingTimeInterval(10)
        while !flooded.withLock({ $0.sawEnd }) && Date() < deadline { usleep(10_000) }
        #expect(flooded.withLock { $0.sawEnd }, "the idle timeout ended the server's side")
        // Meanwhile a client on the same (only) loop echoes; each exchange keeps it from idling.
        let other = try TestClient(port: port, tls: false)
        var exchanges = 0
        while flooded.withLock({ $0.cutAfter == nil }) && Date() < deadline.addingTimeInterval(20) {
            let line = [UInt8].random(count: 1024)
            #expect(try other.echo(line, timeout: 5) == line)
            exchanges += 1
        }
        let result = flooded.withLock { $0 }
        #expect(exchanges > 10, "echoes while the flood ran: \(exchanges)")
        #expect(result.sent > 1 << 20, "the flooder was read from (and discarded): \(result.sent) bytes")
        let cut = try #require(result.cutAfter)
        #expect(cut < 15, "the closing grace (5 s) ended the flood after \(cut) s")
        #expect(server.waitForLog("reason=\"idle timeout\""))
    }
}
