import Testing
@testable import SecureEcho

/// Feeds `chunks` in turn and returns every outcome, rendered so tests can compare them.
private func outcomes(_ chunks: [String]) -> [String] {
    var reader = HTTPRequestReader()
    return chunks.map { chunk in
        switch Array(chunk.utf8).withUnsafeBytes({ reader.receive($0) }) {
        case .incomplete: "incomplete"
        case .request(let path, let headOnly): "\(headOnly ? "HEAD" : "GET") \(path)"
        case .refused(let reply):
            if case .send(let bytes, _) = reply {
                String(decoding: bytes.prefix { $0 != 0x0D }, as: UTF8.self)
            } else {
                "unexpected \(reply)"
            }
        }
    }
}

@Suite("HTTP request heads (metrics and report ports)")
struct HTTPRequestReaderTests {
    @Test("a head sent a byte at a time is answered at its blank line, not before or after")
    func byteAtATime() {
        let head = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
        let answers = outcomes(head.unicodeScalars.map { String($0) })
        #expect(answers.dropLast().allSatisfy { $0 == "incomplete" })
        #expect(answers.last == "GET /metrics")
    }

    @Test("a blank line split across reads: CRLF, then CRLF; LF, then CR, then LF")
    func splitBlankLine() {
        #expect(outcomes(["GET / HTTP/1.1\r\n", "\r\n"]) == ["incomplete", "GET /"])
        #expect(outcomes(["GET / HTTP/1.1\n", "\r", "\n"]) == ["incomplete", "incomplete", "GET /"])
    }

    @Test("lax clients ending lines with LF only are served")
    func bareLineFeeds() {
        #expect(outcomes(["HEAD /?fresh=1 HTTP/1.0\nHost: x\n\n"]) == ["HEAD /"])
    }

    @Test("a request line that is not HTTP/1.x is a 400, another method a 405")
    func refusals() {
        #expect(outcomes(["GET /\r\n\r\n"]) == ["HTTP/1.1 400 Bad Request"])
        #expect(outcomes(["POST / HTTP/1.1\r\n\r\n"]) == ["HTTP/1.1 405 Method Not Allowed"])
    }

    @Test("a head over 8 KiB is a 431, whether it comes at once or in pieces")
    func oversized() {
        let line = "GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 8 * 1024)
        #expect(outcomes([line]) == ["HTTP/1.1 431 Request Header Fields Too Large"])
        let pieces = stride(from: 0, to: line.utf8.count, by: 1000).map { start in
            String(line.dropFirst(start).prefix(1000))
        }
        #expect(outcomes(pieces).last == "HTTP/1.1 431 Request Header Fields Too Large")
        #expect(outcomes(pieces).dropLast().allSatisfy { $0 == "incomplete" })
    }
}
