import Testing
@testable import SecureEcho
@testable import SecureEchoLoop
@testable import SecureEchoSystem
@testable import SecureEchoTLS

@Suite("DeadlineHeap")
struct DeadlineHeapTests {
    @Test("entries come out in deadline order, and only once due")
    func ordering() {
        var heap = DeadlineHeap()
        let deadlines: [UInt64] = [50, 10, 40, 10, 30, 20, 60, 5]
        for (i, d) in deadlines.enumerated() { heap.insert(.init(deadline: d, fd: CInt(i), token: 1)) }
        #expect(heap.earliest == 5)
        #expect(heap.popExpired(now: 4) == nil)
        var popped: [UInt64] = []
        while let entry = heap.popExpired(now: 45) { popped.append(entry.deadline) }
        #expect(popped == [5, 10, 10, 20, 30, 40])
        #expect(heap.count == 2)
        #expect(heap.earliest == 50)
    }
}
