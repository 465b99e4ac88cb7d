import Testing
@testable import SecureEcho
@testable import SecureEchoLoop
@testable import SecureEchoSystem
@testable import SecureEchoTLS

/// Feeds `text` and returns how many bytes became releasable.
private func ingest(_ framer: inout LineEcho, _ text: String) -> Int {
    Array(text.utf8).withUnsafeBytes { framer.ingest($0) }
}

@Suite("Echo applications")
struct LineEchoTests {
    @Test("complete LF and CRLF lines are released with their terminators")
    func splitsLines() {
        var framer = LineEcho(maxLine: 1024)
        #expect(ingest(&framer, "Hola Mundo\r\nsecond\nthi") == 19)
        #expect(framer.held == 3)
        #expect(ingest(&framer, "rd\n") == 6)
        #expect(framer.held == 0)
    }

    @Test("a line delivered one byte at a time is released once, whole, at its newline")
    func byteAtATime() {
        var framer = LineEcho(maxLine: 1024)
        let line = "Hola mundo\r\n"
        var released: [Int] = []
        for byte in line { released.append(ingest(&framer, String(byte))) }
        #expect(released.dropLast().allSatisfy { $0 == 0 })
        #expect(released.last == line.utf8.count)
    }

    @Test("a CR split from its LF across reads waits for the LF")
    func crlfSplit() {
        var framer = LineEcho(maxLine: 1024)
        #expect(ingest(&framer, "abc\r") == 0)
        #expect(ingest(&framer, "\n") == 5)
    }

    @Test("an empty line is a line")
    func emptyLine() {
        var framer = LineEcho(maxLine: 8)
        #expect(ingest(&framer, "\n") == 1)
        #expect(ingest(&framer, "\r\n") == 2)
    }

    @Test("a line of exactly maxLine bytes plus newline is held until the newline")
    func exactlyMaxLine() {
        var framer = LineEcho(maxLine: 4)
        #expect(ingest(&framer, "abc") == 0)
        #expect(ingest(&framer, "d") == 4)   // a full piece goes out
        #expect(ingest(&framer, "\n") == 1)
    }

    @Test("lines longer than maxLine go out in maxLine pieces; the held tail stays shorter")
    func piecesAtMaxLine() {
        var framer = LineEcho(maxLine: 4)
        #expect(ingest(&framer, "abcdefghij") == 8)
        #expect(framer.held == 2)
        #expect(ingest(&framer, "kl") == 4)
        #expect(framer.held == 0)
        #expect(ingest(&framer, "m") == 0)
    }

    @Test("pieces are counted from the last newline")
    func piecesAfterNewline() {
        var framer = LineEcho(maxLine: 4)
        #expect(ingest(&framer, "ab\ncdefgh") == 7)  // "ab\n" + "cdef"
        #expect(framer.held == 2)
    }

    @Test("at EOF the unfinished line is released")
    func partialAtEOF() {
        var framer = LineEcho(maxLine: 1024)
        #expect(ingest(&framer, "one\ntwo") == 4)
        #expect(framer.finish() == .echo(3))
        #expect(framer.held == 0)
        #expect(framer.finish() == .echo(0))
    }

    @Test("the reply to an arrival is the releasable count as echo")
    func receiveReplies() throws {
        var framer = LineEcho(maxLine: 1024)
        let reply = Array("a\nb".utf8).withUnsafeBytes { framer.receive($0) }
        #expect(reply == .echo(2))
        let (socket, peer) = try Socket.makePair()
        defer { peer.close() }
        let transport = PlainTransport(socket: socket)
        defer { transport.close() }
        #expect(framer.start(SessionInfo(peer: "p", transport: transport)) == .echo(0))
    }

    @Test("stream echo releases every byte at once and holds nothing")
    func streamMode() {
        let stream = StreamEcho()
        #expect(Array("no newline at all".utf8).withUnsafeBytes { stream.receive($0) } == .echo(17))
        #expect(stream.finish() == .echo(0))
    }

    @Test("NUL and lone CR are ordinary bytes")
    func binaryBytes() {
        var framer = LineEcho(maxLine: 1024)
        let bytes: [UInt8] = [0, 13, 0, 65, 13, 10, 0]
        #expect(bytes.withUnsafeBytes { framer.ingest($0) } == 6)
        #expect(framer.held == 1)
    }
}
