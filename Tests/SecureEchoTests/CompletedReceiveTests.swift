import Glibc
import Testing
@testable import SecureEchoLoop
@testable import SecureEchoSystem

/// Bytes waiting in the kernel for `socket` (MSG_PEEK, so they stay), without its CompletedReceive.
private func queuedInKernel(_ socket: Socket) -> Int {
    var scratch = [UInt8](repeating: 0, count: 256 * 1024)
    let count = scratch.withUnsafeMutableBytes { recv(socket.descriptor, $0.baseAddress, $0.count, CInt(MSG_PEEK | MSG_DONTWAIT)) }
    return max(count, 0)
}

private func send(_ bytes: [UInt8], to socket: Socket) throws {
    var sent = 0
    while sent < bytes.count {
        let result = try bytes.withUnsafeBytes { try socket.write(UnsafeRawBufferPointer(rebasing: $0[sent...])) }
        guard case .done(let count) = result else { Issue.record("peer's send buffer full"); return }
        sent += count
    }
}

/// What a write returned, as a count (nil for would-block).
private func written(_ result: SyscallResult<Int>) -> Int? {
    if case .done(let count) = result { return count }
    return nil
}

/// Reads what `socket` yields now (through its CompletedReceive when it has one).
private func readNow(_ socket: Socket, peek: Bool = false, limit: Int = 256 * 1024) throws -> [UInt8]? {
    var buffer = [UInt8](repeating: 0, count: limit)
    let result = try buffer.withUnsafeMutableBytes { peek ? try socket.receive(into: $0, peek: true) : try socket.read(into: $0) }
    switch result {
    case .done(let count): return Array(buffer[0..<count])
    case .wouldBlock: return nil
    }
}

/// Bytes standing in for a poller's buffer, freed with the value.
private final class LentBytes {
    let bytes: UnsafeMutableRawBufferPointer
    init(_ content: [UInt8]) {
        bytes = .allocate(byteCount: content.count, alignment: 16)
        bytes.copyBytes(from: content)
    }
    deinit { bytes.deallocate() }
    func lend(to receive: CompletedReceive, id: UInt16, more: Bool) {
        receive.received(UnsafeRawBufferPointer(bytes), bufferID: id, more: more)
    }
}

private func pattern(_ count: Int, seed: Int = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 31 &+ seed) % 251) }
}

@Suite("Completed receive (readers' side)")
struct CompletedReceiveReaderTests {
    @Test("lent bytes come first; a reader with the turn reads the socket in the same call, in order")
    func lentThenSocket() throws {
        let (a, b) = makeSocketPair()
        let receive = CompletedReceive()
        a.completedReceive = receive
        let lent = LentBytes(Array("first ".utf8))
        try send(Array("second".utf8), to: b)
        lent.lend(to: receive, id: 3, more: true)
        #expect(try readNow(a, limit: 3) == Array("fir".utf8))
        #expect(receive.reclaim() == nil)  // three bytes still unread
        #expect(try readNow(a) == Array("st second".utf8))
        #expect(receive.reclaim() == 3)
        #expect(!receive.mayRead)  // the short read emptied the socket: the poller has it again
        #expect(try readNow(a) == nil)
    }

    @Test("without the turn, an empty receive answers would-block and leaves the socket to the poller")
    func noTurnNoSystemCall() throws {
        let (a, b) = makeSocketPair()
        a.completedReceive = CompletedReceive()
        try send([1, 2, 3], to: b)
        #expect(try readNow(a) == nil)
        #expect(queuedInKernel(a) == 3)
    }

    @Test("a peek shows lent bytes without taking them")
    func peek() throws {
        let (a, _) = makeSocketPair()
        let receive = CompletedReceive()
        a.completedReceive = receive
        let content = [UInt8]("PROXY TCP4 ...\r\nhello".utf8)
        let lent = LentBytes(content)
        lent.lend(to: receive, id: 0, more: false)
        #expect(try readNow(a, peek: true) == content)
        #expect(try readNow(a, limit: 16) == Array("PROXY TCP4 ...\r\n".utf8))
        #expect(try readNow(a, peek: true) == Array("hello".utf8))
        #expect(try readNow(a) == Array("hello".utf8))
    }

    @Test("end of stream and a failed receive are reported after the bytes before them")
    func endAndFailure() throws {
        let (a, _) = makeSocketPair()
        let receive = CompletedReceive()
        a.completedReceive = receive
        receive.receivedEnd()
        #expect(try readNow(a) == [])
        let (c, _) = makeSocketPair()
        let failing = CompletedReceive()
        c.completedReceive = failing
        let lent = LentBytes([9, 9])
        lent.lend(to: failing, id: 1, more: false)
        failing.receiveFailed(ECONNRESET)
        #expect(try readNow(c) == [9, 9])
        #expect(throws: SystemCallError.self) { _ = try readNow(c) }
    }
}

#if os(Linux)
/// Gives `socket` a receive and a send queue and registers it with `poller`, which then does its I/O.
@discardableResult
private func attach(_ socket: Socket, to poller: IOUringPoller, token: UInt32,
                    interest: Interest = .readable) throws -> (CompletedReceive, QueuedSend) {
    let receive = CompletedReceive(), send = QueuedSend()
    socket.completedReceive = receive
    socket.queuedSend = send
    try poller.register(fd: socket.descriptor, token: token, interest: interest, receive: receive, send: send)
    return (receive, send)
}

private func wait(_ poller: IOUringPoller, _ timeout: CInt = 1000) throws -> [PollEvent] {
    var events: [PollEvent] = []
    try poller.wait(timeoutMilliseconds: timeout, into: &events)
    return events
}

@Suite("Completed receive (io_uring poller)")
struct IOUringReceiveTests {
    private func receivingPoller() throws -> IOUringPoller {
        let poller = try IOUringPoller()
        try #require(poller.doesSocketIO, "this kernel has no provided-buffer rings")
        return poller
    }

    @Test("a socket is reported readable with its bytes already out of the kernel")
    func bytesInUserSpace() throws {
        let poller = try receivingPoller()
        let (a, b) = makeSocketPair()
        let (receive, _) = try attach(a, to: poller, token: 9)
        #expect(try wait(poller, 0).isEmpty)
        try send(Array("hello".utf8), to: b)
        let events = try wait(poller)
        #expect(events.map(\.token) == [9])
        #expect(events.first?.ready == .readable)
        #expect(receive.hasNews)
        #expect(queuedInKernel(a) == 0)
        #expect(try readNow(a) == Array("hello".utf8))
        #expect(try readNow(a) == nil)
        // Nothing more has arrived: the next wait finds nothing, and the buffer went back.
        #expect(try wait(poller, 0).isEmpty)
        #expect(!receive.holdsBuffer)
        try poller.deregister(fd: a.descriptor)
    }

    @Test("a stream larger than a buffer arrives whole and in order, across the hand-over to read(2)")
    func largeStreamInOrder() throws {
        let poller = try receivingPoller()
        let (a, b) = makeSocketPair()
        try attach(a, to: poller, token: 1)
        var expected: [UInt8] = []
        var got: [UInt8] = []
        for round in 0..<20 {
            let chunk = pattern(40_000 + round * 777, seed: round)
            expected += chunk
            try send(chunk, to: b)
            var spins = 0
            while got.count < expected.count, spins < 100 {
                spins += 1
                for event in try wait(poller) where event.ready.contains(.readable) {
                    while let bytes = try readNow(a, limit: 64 * 1024), !bytes.isEmpty { got += bytes }
                }
            }
        }
        #expect(got.count == expected.count)
        #expect(got == expected)
        try poller.deregister(fd: a.descriptor)
    }

    @Test("a socket that stops reading keeps its bytes in the kernel until it reads again")
    func backpressure() throws {
        let poller = try receivingPoller()
        let (a, b) = makeSocketPair()
        let (receive, _) = try attach(a, to: poller, token: 2)
        #expect(try wait(poller, 0).isEmpty)  // a receive is now in the kernel
        try poller.modify(fd: a.descriptor, token: 2, interest: .writable)
        let writable = try wait(poller)
        #expect(writable.allSatisfy { $0.ready == .writable })
        try send(Array("later".utf8), to: b)
        #expect(try wait(poller, 50).allSatisfy { $0.ready == .writable })
        #expect(queuedInKernel(a) == 5)
        #expect(!receive.hasNews)
        try poller.modify(fd: a.descriptor, token: 2, interest: .readable)
        var events = try wait(poller)
        if events.isEmpty { events = try wait(poller) }
        #expect(events.map(\.ready) == [.readable])
        #expect(try readNow(a) == Array("later".utf8))
        try poller.deregister(fd: a.descriptor)
    }

    @Test("bytes not read are reported again on every wait (level-triggered)")
    func levelTriggered() throws {
        let poller = try receivingPoller()
        let (a, b) = makeSocketPair()
        try attach(a, to: poller, token: 4)
        try send([1, 2, 3, 4], to: b)
        #expect(try wait(poller).map(\.token) == [4])
        #expect(try wait(poller).map(\.token) == [4])
        #expect(try readNow(a, limit: 2) == [1, 2])
        #expect(try wait(poller).map(\.token) == [4])
        #expect(try readNow(a) == [3, 4])
        #expect(try wait(poller, 0).isEmpty)
        b.close()
        #expect(try wait(poller).map(\.token) == [4])
        #expect(try readNow(a) == [])
        try poller.deregister(fd: a.descriptor)
    }

    @Test("more sockets with bytes than buffers: the rest are read by read(2), every byte once")
    func buffersRunOut() throws {
        let poller = try receivingPoller()
        let count = IOUringPoller.receiveBufferCount + 40
        let pairs = (0..<count).map { _ in makeSocketPair() }
        var receives: [CompletedReceive] = []
        for (i, pair) in pairs.enumerated() {
            receives.append(try attach(pair.0, to: poller, token: UInt32(i + 1)).0)
        }
        #expect(try wait(poller, 0).isEmpty)
        for (i, pair) in pairs.enumerated() { try send(pattern(100, seed: i), to: pair.1) }
        var reported = Set<UInt32>()
        var spins = 0
        while reported.count < count, spins < 20 {
            spins += 1
            reported.formUnion(try wait(poller).map(\.token))
        }
        #expect(reported.count == count)
        // No reader has read yet: the buffers are all lent, the other sockets' bytes are still in the kernel.
        #expect(receives.filter(\.holdsBuffer).count == IOUringPoller.receiveBufferCount)
        for (i, pair) in pairs.enumerated() {
            #expect(try readNow(pair.0) == pattern(100, seed: i))
        }
        // Read buffers go back: every socket can receive into one again.
        for (i, pair) in pairs.enumerated() { try send(pattern(50, seed: i + 7), to: pair.1) }
        reported = []
        spins = 0
        while reported.count < count, spins < 20 {
            spins += 1
            for event in try wait(poller) {
                reported.insert(event.token)
                let index = Int(event.token) - 1
                if let bytes = try readNow(pairs[index].0) { #expect(bytes == pattern(50, seed: index + 7)) }
            }
        }
        #expect(reported.count == count)
        for pair in pairs { try poller.deregister(fd: pair.0.descriptor) }
    }

    @Test("a socket deregistered while holding a buffer gives it back")
    func deregisterGivesBack() throws {
        let poller = try receivingPoller()
        for round in 0..<3 {
            let pairs = (0..<IOUringPoller.receiveBufferCount).map { _ in makeSocketPair() }
            var receives: [CompletedReceive] = []
            for (i, pair) in pairs.enumerated() {
                receives.append(try attach(pair.0, to: poller, token: UInt32(round * 1000 + i + 1)).0)
            }
            _ = try wait(poller, 0)
            for pair in pairs { try send([7], to: pair.1) }
            var spins = 0
            while receives.contains(where: { !$0.hasNews }), spins < 20 {
                spins += 1
                _ = try wait(poller)
            }
            // Every one of them got a buffer, so the previous round's were all given back.
            #expect(receives.filter(\.holdsBuffer).count == IOUringPoller.receiveBufferCount)
            for pair in pairs { try poller.deregister(fd: pair.0.descriptor) }
            _ = try wait(poller, 0)
        }
    }
}

@Suite("Queued send (io_uring poller)")
struct IOUringSendTests {
    /// A socket pair whose first end the poller does I/O for.
    private func attached(_ poller: IOUringPoller, token: UInt32, interest: Interest) throws -> (Socket, Socket, QueuedSend) {
        try #require(poller.doesSocketIO, "this kernel has no provided-buffer rings")
        let (a, b) = makeSocketPair()
        let (_, send) = try attach(a, to: poller, token: token, interest: interest)
        return (a, b, send)
    }

    @Test("written bytes leave with the next wait; the socket is writable again once they are sent")
    func sendsWithTheWait() throws {
        let poller = try IOUringPoller()
        let (a, b, send) = try attached(poller, token: 5, interest: .readable)
        #expect(written(try Array("abc".utf8).withUnsafeBytes { try a.write($0) }) == 3)
        #expect(queuedInKernel(b) == 0)  // not sent before the wait
        #expect(!send.isEmpty)
        _ = try wait(poller, 0)
        var spins = 0
        while !send.isEmpty, spins < 20 { spins += 1; _ = try wait(poller, 100) }
        #expect(try readNow(b) == Array("abc".utf8))
        try poller.modify(fd: a.descriptor, token: 5, interest: .writable)
        #expect(try wait(poller).map(\.ready) == [.writable])
        try poller.deregister(fd: a.descriptor)
    }

    @Test("a full queue answers would-block; everything written arrives once, in order")
    func fullQueue() throws {
        let poller = try IOUringPoller()
        let (a, b, _) = try attached(poller, token: 6, interest: .writable)
        let stream = pattern(1_000_000, seed: 3)
        var written = 0, received: [UInt8] = [], blocked = 0
        var spins = 0
        while received.count < stream.count, spins < 10_000 {
            spins += 1
            while written < stream.count {
                let result = try stream.withUnsafeBytes { try a.write(UnsafeRawBufferPointer(rebasing: $0[written..<min(stream.count, written + 100_000)])) }
                guard case .done(let count) = result else { blocked += 1; break }
                #expect(count <= QueuedSend.capacity)
                written += count
            }
            _ = try wait(poller, 10)
            while let bytes = try readNow(b), !bytes.isEmpty { received += bytes }
        }
        #expect(blocked > 0)
        #expect(received.count == stream.count)
        #expect(received == stream)
        try poller.deregister(fd: a.descriptor)
    }

    @Test("a reset that the poller's send takes is reported to the socket's readers too, not as end of stream")
    func resetTakenBySend() throws {
        let poller = try IOUringPoller()
        try #require(poller.doesSocketIO, "this kernel has no provided-buffer rings")
        let listener = try Socket.listen(on: try SocketAddress.resolve(host: "127.0.0.1", port: 0))
        let client = try Socket.connect(to: try listener.localAddress())
        var accepted: Socket?
        for _ in 0..<100 where accepted == nil {
            accepted = try listener.accept()?.0
            if accepted == nil { usleep(10_000) }
        }
        let server = try #require(accepted)
        // Not reading, so no receive is in the kernel to take the reset first.
        let (_, send) = try attach(server, to: poller, token: 8, interest: .writable)
        client.setResetOnClose()
        client.close()
        usleep(50_000)
        #expect(written(try Array("after the reset".utf8).withUnsafeBytes { try server.write($0) }) == 15)
        var waits = 0
        while send.failure == 0, waits < 20 { waits += 1; _ = try wait(poller, 100) }
        #expect(send.failure == ECONNRESET || send.failure == EPIPE)
        #expect(throws: SystemCallError.self) { _ = try readNow(server) }
        try poller.deregister(fd: server.descriptor)
    }

    @Test("a socket deregistered while its send is in the kernel keeps the buffer until the send completes")
    func orphanedSend() throws {
        let poller = try IOUringPoller()
        let (a, b, send) = try attached(poller, token: 7, interest: .readable)
        // Fill the socket's buffer behind the poller's back, so the poller's send must wait.
        let filler = [UInt8](repeating: 1, count: 64 * 1024)
        var direct = 0
        while true {
            let count = filler.withUnsafeBytes { Glibc.send(a.descriptor, $0.baseAddress, $0.count, CInt(MSG_DONTWAIT)) }
            if count <= 0 { break }
            direct += count
        }
        #expect(written(try Array("queued".utf8).withUnsafeBytes { try a.write($0) }) == 6)
        _ = try wait(poller, 0)
        #expect(send.isSending)
        try poller.deregister(fd: a.descriptor)
        #expect(poller.orphans.count == 1)
        var spins = 0
        while !poller.orphans.isEmpty, spins < 20 { spins += 1; _ = try wait(poller, 100) }
        #expect(poller.orphans.isEmpty)
        #expect(!send.isSending && send.isEmpty)
        _ = b
    }
}

@Suite("Completed accept (io_uring poller)")
struct IOUringAcceptTests {
    private func listening(_ poller: IOUringPoller, token: UInt32) throws -> (Socket, SocketAddress) {
        try #require(poller.doesSocketIO, "this kernel has no provided-buffer rings")
        let listener = try Socket.listen(on: try SocketAddress.resolve(host: "127.0.0.1", port: 0))
        listener.completedAccept = CompletedAccept()
        try poller.register(listener: listener.descriptor, token: token, interest: .readable,
                            accepts: try #require(listener.completedAccept))
        return (listener, try listener.localAddress())
    }

    /// Waits until `count` clients are accepted (or 20 waits pass), taking them as they come.
    private func accept(_ count: Int, from listener: Socket, _ poller: IOUringPoller) throws -> [(Socket, SocketAddress)] {
        var accepted: [(Socket, SocketAddress)] = []
        var waits = 0
        while accepted.count < count, waits < 20 {
            waits += 1
            _ = try wait(poller, 200)
            while let client = try listener.accept() { accepted.append(client) }
        }
        return accepted
    }

    @Test("clients are accepted by the kernel and taken without accept4; each keeps its own address")
    func acceptsWithoutSystemCalls() throws {
        let poller = try IOUringPoller()
        let (listener, address) = try listening(poller, token: 3)
        #expect(try wait(poller, 0).isEmpty)
        let clients = try (0..<5).map { _ in try Socket.connect(to: address) }
        let accepted = try accept(5, from: listener, poller)
        #expect(accepted.count == 5)
        let ours = Set(try clients.map { try $0.localAddress().description })
        #expect(Set(accepted.map(\.1.description)) == ours)
        // Each accepted socket is a connected, non-blocking peer of one client.
        for (server, _) in accepted {
            #expect(fcntl(server.descriptor, F_GETFL) & O_NONBLOCK != 0)
            #expect(fcntl(server.descriptor, F_GETFD) & FD_CLOEXEC != 0)
        }
        #expect(try listener.accept() == nil)
        try poller.deregister(fd: listener.descriptor)
    }

    @Test("accepted clients not yet taken are reported on every wait (level-triggered)")
    func levelTriggered() throws {
        let poller = try IOUringPoller()
        let (listener, address) = try listening(poller, token: 4)
        let client = try Socket.connect(to: address)
        var events: [PollEvent] = []
        for _ in 0..<20 where events.isEmpty { events = try wait(poller, 200) }
        #expect(events.map(\.token) == [4])
        #expect(try wait(poller, 0).map(\.token) == [4])
        #expect(try listener.accept() != nil)
        #expect(try wait(poller, 0).isEmpty)
        try poller.deregister(fd: listener.descriptor)
        _ = client
    }

    @Test("a listener that stops listening stops accepting; clients wait in the backlog until it listens again")
    func pauseAndResume() throws {
        let poller = try IOUringPoller()
        let (listener, address) = try listening(poller, token: 5)
        try poller.modify(fd: listener.descriptor, token: 5, interest: [])
        _ = try wait(poller, 0)  // the cancellation goes to the kernel
        _ = try wait(poller, 50)
        let client = try Socket.connect(to: address)
        #expect(try wait(poller, 200).isEmpty)
        #expect(try listener.accept() == nil)
        // Still in the backlog: a direct accept4 finds it.
        let direct = try listener.accept(direct: true)
        #expect(direct != nil)
        let second = try Socket.connect(to: address)
        try poller.modify(fd: listener.descriptor, token: 5, interest: .readable)
        #expect(try accept(1, from: listener, poller).count == 1)
        try poller.deregister(fd: listener.descriptor)
        _ = (client, second)
    }

    @Test("descriptors accepted but never taken are closed with the listener")
    func untakenAreClosed() throws {
        let poller = try IOUringPoller()
        let (listener, address) = try listening(poller, token: 6)
        let client = try Socket.connect(to: address)
        var spins = 0
        while listener.completedAccept?.hasNews != true, spins < 20 { spins += 1; _ = try wait(poller, 200) }
        #expect(listener.completedAccept?.hasNews == true)
        try poller.deregister(fd: listener.descriptor)
        _ = try wait(poller, 0)
        listener.completedAccept = nil
        // The accepted end was closed: the client reads end of stream.
        var byte: UInt8 = 0
        var result = -1
        for _ in 0..<20 {
            result = recv(client.descriptor, &byte, 1, CInt(MSG_DONTWAIT))
            if result >= 0 { break }
            usleep(10_000)
        }
        #expect(result == 0)
    }
}
#endif
