import Foundation
import Glibc
import Logging
import Testing
@testable import SecureEcho
@testable import SecureEchoLoop
@testable import SecureEchoSystem
@testable import SecureEchoTLS

/// The same cases run against every backend, so `poll` cannot silently rot behind `epoll`.
@Suite("Pollers")
struct PollerTests {
    private func wait(_ poller: any Poller, _ timeout: CInt = 1000) throws -> [PollEvent] {
        var events: [PollEvent] = []
        try poller.wait(timeoutMilliseconds: timeout, into: &events)
        return events
    }

    @Test("readiness is reported with the registration token", arguments: PollerKind.allCases)
    func readable(kind: PollerKind) throws {
        let poller = try makePoller(kind)
        let (a, b) = makeSocketPair()
        try poller.register(fd: a.descriptor, token: 7, interest: .readable)
        #expect(try wait(poller, 0).isEmpty)
        _ = try [UInt8](repeating: 1, count: 3).withUnsafeBytes { try b.write($0) }
        let events = try wait(poller)
        #expect(events.count == 1)
        #expect(events.first?.fd == a.descriptor)
        #expect(events.first?.token == 7)
        #expect(events.first?.ready == .readable)
        try poller.deregister(fd: a.descriptor)
    }

    @Test("modify switches interest and token; deregister silences the fd", arguments: PollerKind.allCases)
    func modifyAndDeregister(kind: PollerKind) throws {
        let poller = try makePoller(kind)
        let (a, b) = makeSocketPair()
        defer { withExtendedLifetime(b) {} }
        try poller.register(fd: a.descriptor, token: 1, interest: .readable)
        #expect(try wait(poller, 0).isEmpty)
        try poller.modify(fd: a.descriptor, token: 2, interest: .writable)
        let events = try wait(poller)
        #expect(events.map(\.token) == [2])
        #expect(events.first?.ready == .writable)
        try poller.deregister(fd: a.descriptor)
        #expect(try wait(poller, 0).isEmpty)
    }

    @Test("a hang-up is reported as readable and writable", arguments: PollerKind.allCases)
    func hangUp(kind: PollerKind) throws {
        let poller = try makePoller(kind)
        let (a, b) = makeSocketPair()
        try poller.register(fd: a.descriptor, token: 3, interest: .writable)
        b.close()
        let events = try wait(poller)
        #expect(events.first?.ready == [.readable, .writable])
        try poller.deregister(fd: a.descriptor)
    }

    @Test("many registrations survive swap-removal in any order", arguments: PollerKind.allCases)
    func manyRegistrations(kind: PollerKind) throws {
        let poller = try makePoller(kind)
        let pairs = (0..<20).map { _ in makeSocketPair() }
        for (i, pair) in pairs.enumerated() {
            try poller.register(fd: pair.0.descriptor, token: UInt32(i), interest: .readable)
        }
        for i in stride(from: 0, to: 20, by: 3) { try poller.deregister(fd: pairs[i].0.descriptor) }
        for pair in pairs { _ = try [UInt8(1)].withUnsafeBytes { try pair.1.write($0) } }
        let tokens = Set(try wait(poller).map(\.token))
        let expected = Set((0..<20).filter { $0 % 3 != 0 }.map(UInt32.init))
        #expect(tokens == expected)
    }

    @Test("readiness left unconsumed is reported again on the next wait (level-triggered)", arguments: PollerKind.allCases)
    func levelTriggered(kind: PollerKind) throws {
        let poller = try makePoller(kind)
        let (a, b) = makeSocketPair()
        try poller.register(fd: a.descriptor, token: 4, interest: .readable)
        _ = try [UInt8](repeating: 1, count: 8).withUnsafeBytes { try b.write($0) }
        #expect(try wait(poller).map(\.token) == [4])
        #expect(try wait(poller).map(\.token) == [4])
        var sink = [UInt8](repeating: 0, count: 64)
        _ = try sink.withUnsafeMutableBytes { try a.read(into: $0) }
        #expect(try wait(poller, 0).isEmpty)
        try poller.deregister(fd: a.descriptor)
    }

    @Test("a change made before the next wait replaces readiness already found for the old interest",
          arguments: PollerKind.allCases)
    func changeBeforeWait(kind: PollerKind) throws {
        let poller = try makePoller(kind)
        let (a, b) = makeSocketPair()
        _ = try [UInt8](repeating: 1, count: 8).withUnsafeBytes { try b.write($0) }
        try poller.register(fd: a.descriptor, token: 5, interest: .readable)
        #expect(try wait(poller).map(\.token) == [5])
        // The fd is still readable, and the poller may already know; the new interest wins.
        try poller.modify(fd: a.descriptor, token: 6, interest: .writable)
        let events = try wait(poller)
        #expect(events.map(\.token) == [6])
        #expect(events.first?.ready == .writable)
        try poller.deregister(fd: a.descriptor)
        #expect(try wait(poller, 0).isEmpty)
        try poller.register(fd: a.descriptor, token: 7, interest: .readable)
        #expect(try wait(poller).map(\.token) == [7])
        try poller.deregister(fd: a.descriptor)
    }
}

/// Log lines kept in memory, for tests that assert what was said.
private final class CapturedLog: @unchecked Sendable {
    private let lock = NSLock()
    private var captured: [String] = []
    var lines: [String] { lock.withLock { captured } }
    func append(_ line: String) { lock.withLock { captured.append(line) } }
}

private struct CapturingLogHandler: LogHandler {
    let log: CapturedLog
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        log.append("\(event.level) \(event.message)")
    }
}

@Suite("io_uring fallback")
struct IOUringFallbackTests {
    @Test("a ring the kernel refuses is a typed error naming io_uring_setup")
    func refusedRing() {
        #expect(throws: SystemCallError.self) { _ = try IOUringPoller(entries: 0) }
        do {
            _ = try IOUringPoller(entries: 0)
        } catch {
            #expect(error.description.hasPrefix("io_uring_setup: "))
        }
    }

    @Test("where io_uring is refused the server uses epoll and says so in one line; other pollers are kept")
    func fallsBackToEpoll() {
        let log = CapturedLog()
        let logger = Logger(label: "test", factory: { _ in CapturingLogHandler(log: log) })
        let refused: (PollerKind) throws(SystemCallError) -> any Poller = { _ throws(SystemCallError) in
            throw SystemCallError(call: "io_uring_setup", errno: EPERM)
        }
        #expect(EchoServer.availablePoller(.ioUring, logger: logger, probe: refused) == .epoll)
        #expect(log.lines == ["warning io_uring unavailable (io_uring_setup: Operation not permitted); using epoll"])
        #expect(EchoServer.availablePoller(.poll, logger: logger, probe: refused) == .poll)
        #expect(log.lines.count == 1)
    }
}
