import Testing
@testable import SecureEcho
@testable import SecureEchoLoop
@testable import SecureEchoSystem
@testable import SecureEchoTLS

@Suite("OutputBuffer")
struct OutputBufferTests {
    private func append(_ buffer: inout OutputBuffer, _ text: String) {
        Array(text.utf8).withUnsafeBytes { buffer.append($0) }
    }

    private func sendableText(_ buffer: borrowing OutputBuffer) -> String {
        String(decoding: buffer.sendable, as: UTF8.self)
    }

    @Test("appended bytes are held until released, then sent in order")
    func holdReleaseConsume() {
        var buffer = OutputBuffer()
        append(&buffer, "hello wor")
        let (count, sendableCount) = (buffer.count, buffer.sendableCount)
        #expect(count == 9)
        #expect(sendableCount == 0)
        buffer.release(6)
        #expect(sendableText(buffer) == "hello ")
        buffer.consume(2)
        #expect(sendableText(buffer) == "llo ")
        let held = buffer.heldCount
        #expect(held == 3)
        append(&buffer, "ld\n")
        buffer.release(6)
        #expect(sendableText(buffer) == "llo world\n")
    }

    @Test("held bytes move out to another buffer, leaving no storage behind")
    func moveHeld() {
        var buffer = OutputBuffer()
        append(&buffer, "abc\nunfinished")
        buffer.release(4)
        buffer.consume(4)
        let destination = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 1)
        defer { destination.deallocate() }
        let moved = buffer.moveHeld(to: destination)
        #expect(moved == 10)
        #expect(String(decoding: destination[0..<moved], as: UTF8.self) == "unfinished")
        let (isEmpty, allocated) = (buffer.isEmpty, buffer.allocatedBytes)
        #expect(isEmpty)
        #expect(allocated == 0)
    }

    @Test("an empty buffer owns no storage")
    func freesWhenEmpty() {
        var buffer = OutputBuffer()
        let before = buffer.allocatedBytes
        #expect(before == 0)
        append(&buffer, "abc")
        let during = buffer.allocatedBytes
        #expect(during >= 3)
        buffer.release(3)
        buffer.consume(3)
        let empty = buffer.isEmpty
        #expect(empty)
        let after = buffer.allocatedBytes
        #expect(after == 0)
    }

    @Test("compaction and growth keep every byte in order")
    func growthKeepsOrder() {
        var buffer = OutputBuffer()
        var expected: [UInt8] = []
        var next: UInt8 = 0
        for round in 0..<200 {
            let chunk = (0..<(round * 37 % 5000 + 1)).map { _ -> UInt8 in next &+= 1; return next }
            chunk.withUnsafeBytes { buffer.append($0) }
            expected += chunk
            buffer.release(buffer.heldCount)
            let take = min(buffer.sendableCount, round * 53 % 4000)
            let front = Array(buffer.sendable.prefix(take))
            #expect(front == Array(expected.prefix(take)))
            buffer.consume(take)
            expected.removeFirst(take)
        }
        let remaining = Array(buffer.sendable)
        #expect(remaining == expected)
    }
}
