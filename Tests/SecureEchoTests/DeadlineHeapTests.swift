import Glibc
import Logging
import Testing
@testable import SecureEcho
@testable import SecureEchoLoop
@testable import SecureEchoSystem

@Suite("DeadlineHeap")
struct DeadlineHeapTests {
    @Test("entries come out in deadline order, and only once due")
    func ordering() {
        var heap = DeadlineHeap()
        let deadlines: [UInt64] = [50, 10, 40, 10, 30, 20, 60, 5]
        for (i, d) in deadlines.enumerated() { heap.schedule(d, fd: CInt(i), token: 1) }
        #expect(heap.earliest == 5)
        #expect(heap.popExpired(now: 4) == nil)
        var popped: [UInt64] = []
        while let entry = heap.popExpired(now: 45) { popped.append(entry.deadline) }
        #expect(popped == [5, 10, 10, 20, 30, 40])
        #expect(heap.count == 2)
        #expect(heap.earliest == 50)
    }

    @Test("one entry per descriptor: an earlier deadline moves it, a later one does not, a new token replaces it")
    func onePerDescriptor() {
        var heap = DeadlineHeap()
        heap.schedule(100, fd: 3, token: 1)
        heap.schedule(200, fd: 3, token: 1)
        #expect(heap.count == 1 && heap.earliest == 100)
        heap.schedule(40, fd: 3, token: 1)
        #expect(heap.count == 1 && heap.earliest == 40)
        heap.schedule(300, fd: 3, token: 2)  // fd 3 reused by a new registration
        #expect(heap.count == 1 && heap.earliest == 300)
        #expect(heap.popExpired(now: 300) == .init(deadline: 300, fd: 3, token: 2))
        #expect(heap.isEmpty)
    }

    @Test("cancelling from the middle keeps heap order")
    func cancelKeepsOrder() {
        var heap = DeadlineHeap()
        var next: UInt64 = 7
        var expected: [CInt: UInt64] = [:]
        for fd in CInt(0)..<500 {
            next = next &* 6364136223846793005 &+ 1442695040888963407
            let deadline = next % 10_000
            heap.schedule(deadline, fd: fd, token: 1)
            expected[fd] = deadline
        }
        for fd in stride(from: CInt(0), to: 500, by: 3) {
            heap.cancel(fd: fd)
            expected[fd] = nil
        }
        heap.cancel(fd: 9999)  // never scheduled: nothing happens
        #expect(heap.count == expected.count)
        var popped: [UInt64] = []
        while let entry = heap.popExpired(now: .max) {
            #expect(expected[entry.fd] == entry.deadline)
            popped.append(entry.deadline)
        }
        #expect(popped == expected.values.sorted())
    }

    /// 10 000 connections open and close on one loop with a 300 s idle timeout: the loop must be
    /// left holding no deadline for any of them (before, each left its entry until it expired).
    @Test("connection churn leaves no deadlines behind", arguments: PollerKind.allCases)
    func churn(poller: PollerKind) throws {
        let loop = EventLoop(poller: try makePoller(poller), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let policy = ConnectionPolicy(handshakeTimeout: 10_000_000_000, idleTimeout: 300_000_000_000)
        var held: [(Connection, Socket)] = []
        for round in 0..<10_000 {
            let (server, client) = try Socket.makePair()
            let connection = Connection(loop: loop, transport: PlainTransport(socket: server), peer: "churn", policy: policy,
                                        application: LineEcho(maxLine: 1024))
            connection.start()
            held.append((connection, client))
            if round % 50 == 49 {
                #expect(loop.scheduledDeadlines == held.count)
                for (connection, _) in held { connection.abort(reason: "churn") }
                held.removeAll()
                #expect(loop.scheduledDeadlines == 0)
            }
        }
        #expect(loop.connectionCount == 0)
        #expect(loop.scheduledDeadlines == 0)
    }
}
