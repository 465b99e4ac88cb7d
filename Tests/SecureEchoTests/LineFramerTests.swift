import Testing
@testable import SecureEcho
@testable import SecureEchoLoop
@testable import SecureEchoSystem
@testable import SecureEchoTLS

/// Feeds `text` and returns how many bytes became releasable.
private func ingest(_ framer: inout LineFramer, _ text: String) -> Int {
    Array(text.utf8).withUnsafeBytes { framer.ingest($0) }
}

@Suite("LineFramer")
struct LineFramerTests {
    @Test("complete LF and CRLF lines are released with their terminators")
    func splitsLines() {
        var framer = LineFramer(mode: .line, maxLine: 1024)
        #expect(ingest(&framer, "Hola Mundo\r\nsecond\nthi") == 19)
        #expect(framer.held == 3)
        #expect(ingest(&framer, "rd\n") == 6)
        #expect(framer.held == 0)
    }

    @Test("a line delivered one byte at a time is released once, whole, at its newline")
    func byteAtATime() {
        var framer = LineFramer(mode: .line, maxLine: 1024)
        let line = "Hola mundo\r\n"
        var released: [Int] = []
        for byte in line { released.append(ingest(&framer, String(byte))) }
        #expect(released.dropLast().allSatisfy { $0 == 0 })
        #expect(released.last == line.utf8.count)
    }

    @Test("a CR split from its LF across reads waits for the LF")
    func crlfSplit() {
        var framer = LineFramer(mode: .line, maxLine: 1024)
        #expect(ingest(&framer, "abc\r") == 0)
        #expect(ingest(&framer, "\n") == 5)
    }

    @Test("an empty line is a line")
    func emptyLine() {
        var framer = LineFramer(mode: .line, maxLine: 8)
        #expect(ingest(&framer, "\n") == 1)
        #expect(ingest(&framer, "\r\n") == 2)
    }

    @Test("a line of exactly maxLine bytes plus newline is held until the newline")
    func exactlyMaxLine() {
        var framer = LineFramer(mode: .line, maxLine: 4)
        #expect(ingest(&framer, "abc") == 0)
        #expect(ingest(&framer, "d") == 4)   // a full piece goes out
        #expect(ingest(&framer, "\n") == 1)
    }

    @Test("lines longer than maxLine go out in maxLine pieces; the held tail stays shorter")
    func piecesAtMaxLine() {
        var framer = LineFramer(mode: .line, maxLine: 4)
        #expect(ingest(&framer, "abcdefghij") == 8)
        #expect(framer.held == 2)
        #expect(ingest(&framer, "kl") == 4)
        #expect(framer.held == 0)
        #expect(ingest(&framer, "m") == 0)
    }

    @Test("pieces are counted from the last newline")
    func piecesAfterNewline() {
        var framer = LineFramer(mode: .line, maxLine: 4)
        #expect(ingest(&framer, "ab\ncdefgh") == 7)  // "ab\n" + "cdef"
        #expect(framer.held == 2)
    }

    @Test("at EOF the unfinished line is released")
    func partialAtEOF() {
        var framer = LineFramer(mode: .line, maxLine: 1024)
        #expect(ingest(&framer, "one\ntwo") == 4)
        #expect(framer.finish() == 3)
        #expect(framer.held == 0)
        #expect(framer.finish() == 0)
    }

    @Test("stream mode releases every byte at once")
    func streamMode() {
        var framer = LineFramer(mode: .stream, maxLine: 4)
        #expect(ingest(&framer, "no newline at all") == 17)
        #expect(framer.held == 0)
    }

    @Test("NUL and lone CR are ordinary bytes")
    func binaryBytes() {
        var framer = LineFramer(mode: .line, maxLine: 1024)
        let bytes: [UInt8] = [0, 13, 0, 65, 13, 10, 0]
        #expect(bytes.withUnsafeBytes { framer.ingest($0) } == 6)
        #expect(framer.held == 1)
    }
}
