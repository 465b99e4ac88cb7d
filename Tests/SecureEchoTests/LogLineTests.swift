import Foundation
import Glibc
import Logging
import Testing
@testable import SecureEcho
@testable import SecureEchoSystem

@Suite("Log lines")
struct LogLineTests {
    @Test("fields come in a fixed order, unknown ones sorted after; the event name is the message")
    func fieldOrder() {
        let line = LogLine.render(time: "T", level: .info, message: "closed", metadata: [
            "zeta": "1", "reason": "eof", "peer": "127.0.0.1:1", "alpha": "2", "bytes_in": "3", "event": "closed",
        ])
        #expect(line == "T info closed peer=127.0.0.1:1 bytes_in=3 reason=\"eof\" alpha=2 zeta=1")
    }

    @Test("client-controlled bytes are escaped: no raw newline, control byte or unbalanced quote")
    func escaping() {
        let line = LogLine.render(time: "T", level: .warning, message: "closed", metadata: [
            "sni": "evil\nT info forged line", "alpn": "a\u{1}b\u{7F}c\u{85}", "reason": "say \"hi\" \\ bye",
        ])
        #expect(line == #"T warning closed sni="evil\nT info forged line" alpn=a\x01b\x7Fc\x85 reason="say \"hi\" \\ bye""#)
        #expect(!line.contains("\n"))
    }

    @Test("JSON: one object, numbers and booleans typed, the same escaping guarantees")
    func json() throws {
        let line = LogLine.renderJSON(time: "T", level: .info, message: "closed", metadata: [
            "event": "closed", "peer": "127.0.0.1:1", "bytes_in": "12", "resumed": "yes", "sni": "a\"b\n\u{1}",
            "reason": "eof",
        ])
        #expect(line == #"{"time":"T","level":"info","event":"closed","peer":"127.0.0.1:1","sni":"a\"b\n\u0001","resumed":true,"bytes_in":12,"reason":"eof"}"#)
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        #expect(object?["sni"] as? String == "a\"b\n\u{1}")
        let sentence = LogLine.renderJSON(time: "T", level: .notice, message: "SIGHUP: reloaded", metadata: ["event": "reload"])
        #expect(sentence == #"{"time":"T","level":"notice","event":"reload","message":"SIGHUP: reloaded"}"#)
    }

    @Test("client bytes that are not UTF-8 become \\xNN, and so does a backslash, so every byte can be told apart")
    func clientText() {
        #expect(ClientText.decode(Array("héllo".utf8)) == "héllo")
        #expect(ClientText.decode([0x61, 0xFF, 0x62]) == "a\\xFFb")
        #expect(ClientText.decode(Array("a\\xFF".utf8)) == "a\\x5CxFF", "a literal backslash is not mistaken for an escape")
        #expect(ClientText.decode([0xE2, 0x82]) == "\\xE2\\x82", "a truncated sequence")
        #expect(ClientText.decode([0xC0, 0xAF]) == "\\xC0\\xAF", "an overlong encoding")
        #expect(ClientText.decode([0xED, 0xA0, 0x80]) == "\\xED\\xA0\\x80", "a surrogate")
    }

    @Test("UTF-8 beyond ASCII is kept, C1 controls (U+0080–U+009F) are escaped as their scalar, in text and JSON")
    func nonASCII() {
        let metadata: Logger.Metadata = ["sni": "¢é\u{80}日本\u{9F}\u{A0}", "event": "closed"]
        #expect(LogLine.render(time: "T", level: .info, message: "closed", metadata: metadata)
            == #"T info closed sni=¢é\x80日本\x9F\#u{A0}"#)
        #expect(LogLine.renderJSON(time: "T", level: .info, message: "closed", metadata: metadata)
            == #"{"time":"T","level":"info","event":"closed","sni":"¢é\u0080日本\u009f\#u{A0}"}"#)
    }

    @Test("the server's timestamps: UTC with milliseconds")
    func timestamp() throws {
        let line = String(decoding: LogLine.text(time: WallClock.appendTimestamp, level: .info, message: "accepted",
                                                 metadata: ["event": "accepted", "peer": "p"]), as: UTF8.self)
        #expect(try #/^20\d\d-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-6]\d\.\d{3}Z info accepted peer=p$/#.wholeMatch(in: line) != nil,
                "\(line)")
        func today() -> String {
            var parts = tm()
            var seconds = time(nil)
            gmtime_r(&seconds, &parts)
            return String(format: "%04d-%02d-%02dT%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour)
        }
        let before = today(), stamp = WallClock.timestamp(), after = today()
        #expect(stamp.hasPrefix(before) || stamp.hasPrefix(after), "\(stamp) against \(before)")
    }

    @Test("empty values and values with '=' are quoted")
    func quoting() {
        #expect(LogLine.escaped("", quoting: true) == "\"\"")
        #expect(LogLine.escaped("a=b", quoting: true) == "\"a=b\"")
        #expect(LogLine.escaped("plain", quoting: true) == "plain")
    }
}

@Suite("LineWriter")
struct LineWriterTests {
    @Test("a descriptor nobody reads: writes never block, lines are dropped and counted, then reported")
    func stalledDescriptor() throws {
        var fds: [CInt] = [-1, -1]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let writer = try LineWriter(descriptor: fds[1], capacity: 4096)
        let line = String(repeating: "x", count: 99)
        // The pipe holds 64 KiB and the queue 4 KiB: offer lines (at a pace the writer thread
        // can follow until the pipe is full) until well past both.
        var offered = 0
        while offered < 100_000 && (writer.droppedLines == 0 || offered * 100 < 200_000) {
            writer.write(line)
            offered += 1
            if offered % 20 == 0 { usleep(100) }
        }
        let dropped = writer.droppedLines
        #expect(dropped > 0)
        // Read everything: the writer drains its queue, then says what it dropped.
        var text = ""
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(10)
        func reported(_ text: String) -> Int {
            text.split(separator: "\n").filter { $0.hasPrefix("warning ") }
                .compactMap { $0.split(separator: " ").dropFirst().first.flatMap { Int($0) } }.reduce(0, +)
        }
        func delivered(_ text: String) -> Int {
            text.split(separator: "\n").filter { !$0.hasPrefix("warning ") }.count
        }
        // Until every line offered has been either delivered or reported dropped (the last
        // lines may follow the last report in a later batch).
        while Date() < deadline, reported(text) < dropped || delivered(text) + dropped < offered {
            var p = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            text += String(decoding: buffer[..<max(n, 0)], as: UTF8.self)
        }
        #expect(reported(text) == dropped)
        let lines = text.split(separator: "\n")
        let notices = lines.filter { $0.hasPrefix("warning ") }
        #expect(notices.allSatisfy { $0.hasSuffix(" log lines dropped: stderr was not keeping up") }, "\(notices)")
        #expect(lines.filter { !$0.hasPrefix("warning ") }.allSatisfy { $0 == line }, "lines are dropped whole, never cut")
        #expect(lines.count - notices.count + dropped == offered)
        #expect(writer.flush(timeout: 5))
    }
}

@Suite("LineWriter gathering")
struct LineWriterGatheringTests {
    @Test("lines that come within the gathering time leave in one write, not one write per line")
    func burstInOneWrite() throws {
        var fds: [CInt] = [-1, -1]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let writer = try LineWriter(descriptor: fds[1], gathering: 200_000_000)
        writer.write("first")
        usleep(20_000)  // the writer is awake by now; without gathering it would write "first" alone
        for index in 2...10 { writer.write("line \(index)") }
        var entry = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
        #expect(poll(&entry, 1, 5_000) == 1)
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
        let text = String(decoding: buffer[..<max(count, 0)], as: UTF8.self)
        #expect(text == "first\n" + (2...10).map { "line \($0)\n" }.joined())
        #expect(writer.flush(timeout: 5))
    }
}
