// The load generator's client side, on the same event loop and TLS code as the server:
// one non-blocking connection that connects, handshakes, then runs a workload.
import SecureEcho
import Histogram
import SecureEchoLoop
import SecureEchoSystem
import SecureEchoTLS
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// What a bench connection does once connected.
enum BenchWorkload {
    /// Send one line of `message`, wait for all of it back, compare, repeat.
    case pingpong(message: [UInt8])
    /// Complete a full handshake, then close (a new connection replaces it).
    case handshake
    /// Send `total` pattern bytes while reading the echo; verify every byte. With `noRead`, send
    /// without reading until the server stops taking bytes, then read everything back.
    case flood(total: Int, noRead: Bool)
    /// Connect, handshake, then stay idle until told to stop.
    case hold
}

/// Results one connection adds to the run's tally.
final class BenchTally {
    var messages = 0
    var bytes = 0
    var handshakes = 0
    var mismatches = 0
    var failures: [String] = []
    /// Round-trip latencies in nanoseconds (ping-pong only): 1 µs to 60 s at three significant
    /// digits, in a fixed 144 KiB (18,432 counters) however long the run.
    var latencies = Histogram<UInt64>(lowestDiscernibleValue: 1_000, highestTrackableValue: 60_000_000_000,
                                      numberOfSignificantValueDigits: .three)
}

final class BenchClient: EventHandler {
    enum State { case connecting, handshaking, running, done }

    private unowned let loop: EventLoop
    private let transport: any Transport
    private let workload: BenchWorkload
    private let tally: BenchTally
    private let onDone: (BenchClient) -> Void
    private(set) var state = State.connecting
    private var token: UInt32 = 0
    private var fd: CInt
    var stopRequested = false

    // Ping-pong and flood progress.
    private var sent = 0
    private var received = 0
    private var sentAt: UInt64 = 0
    /// Flood --no-read: false until the runner decides the server has stopped taking bytes.
    private(set) var reading = true
    /// When a write last made progress (monotonic ns).
    private(set) var lastWrite: UInt64 = 0
    var bytesSent: Int { sent }

    init(loop: EventLoop, address: SocketAddress, context: TLSContext?, workload: BenchWorkload,
         tally: BenchTally, onDone: @escaping (BenchClient) -> Void) throws {
        self.loop = loop
        let socket = try Socket.connect(to: address)
        socket.setNoDelay()
        fd = socket.descriptor
        transport = try context.map { try TLSTransport(socket: socket, context: $0, serverName: "localhost") }
            ?? PlainTransport(socket: socket)
        self.workload = workload
        if case .flood(_, true) = workload { reading = false }
        self.tally = tally
        self.onDone = onDone
        token = try loop.register(self, fd: fd, interest: .writable)
    }

    func deadlinePassed(now: UInt64) {}

    func handle(_ ready: Interest) {
        guard state != .done else { return }
        do {
            if state == .connecting {
                guard ready.contains(.writable) || ready.isEmpty else { return }
                state = .handshaking
            }
            if state == .handshaking {
                // A plain transport is done at once; TLS may need several readiness events.
                if case .wouldBlock(let interest) = try transport.handshake() { return wait(interest) }
                tally.handshakes += 1
                state = .running
                if case .handshake = workload { return finish() }
                sentAt = MonotonicClock.now()
            }
            if let interest = try run() { wait(interest) }
        } catch {
            tally.failures.append("\(error)")
            finish()
        }
    }

    // MARK: - Workloads

    private func run() throws -> Interest? {
        switch workload {
        case .handshake:
            return nil
        case .hold:
            // Read (and drop) what the server sends after the handshake, such as TLS 1.3
            // session tickets, so that readability does not keep waking us.
            while true {
                switch try transport.read(into: loop.readBuffer) {
                case .bytes: continue
                case .wouldBlock(let interest): return interest
                case .endOfStream: throw BenchError("the server closed a held connection")
                }
            }
        case .pingpong(let message):
            return try pingpong(message)
        case .flood(let total, _):
            return try flood(total)
        }
    }

    private func pingpong(_ message: [UInt8]) throws -> Interest? {
        while true {
            while sent < message.count {
                switch try transport.write(message.withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0[sent...]) }) {
                case .bytes(let n): sent += n
                case .wouldBlock(let interest): return interest
                case .endOfStream: throw BenchError("server closed while we were sending")
                }
            }
            let buffer = loop.readBuffer
            // Never more than the loop buffer holds: --size may exceed it.
            switch try transport.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<min(buffer.count, message.count - received)])) {
            case .bytes(let n):
                let matches = message.withUnsafeBytes { expected in
                    memcmp(expected.baseAddress! + received, buffer.baseAddress!, n) == 0
                }
                if !matches { tally.mismatches += 1 }
                received += n
                if received == message.count {
                    let now = MonotonicClock.now()
                    _ = tally.latencies.record(min(now - sentAt, 60_000_000_000))
                    tally.messages += 1
                    tally.bytes += message.count
                    sent = 0
                    received = 0
                    sentAt = now
                    if stopRequested { finish(); return nil }
                }
            case .wouldBlock(let interest): return interest
            case .endOfStream: throw BenchError("server closed the connection")
            }
        }
    }

    private func flood(_ total: Int) throws -> Interest? {
        let pattern = Self.floodPattern
        while true {
            var progressed = false
            if sent < total {
                let phase = sent % Self.floodLine
                let count = min(Self.floodChunk, total - sent)
                switch try pattern.withUnsafeBytes({ try transport.write(UnsafeRawBufferPointer(rebasing: $0[phase..<(phase + count)])) }) {
                case .bytes(let n): sent += n; progressed = true; lastWrite = MonotonicClock.now()
                case .wouldBlock(let interest) where !reading: return interest
                case .wouldBlock, .endOfStream: break
                }
            }
            guard reading else { continue }
            let buffer = loop.readBuffer
            let want = min(buffer.count, Self.floodChunk)
            switch try transport.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want])) {
            case .bytes(let n):
                let phase = received % Self.floodLine
                let same = pattern.withUnsafeBytes { memcmp($0.baseAddress! + phase, buffer.baseAddress!, n) == 0 }
                if !same { tally.mismatches += 1 }
                received += n
                tally.bytes += n
                progressed = true
                if received >= total { finish(); return nil }
            case .wouldBlock(let interest) where !progressed:
                return sent < total ? [interest, .writable] : interest
            case .wouldBlock:
                continue
            case .endOfStream:
                throw BenchError("server closed after \(received) of \(total) bytes")
            }
        }
    }

    /// Flood bytes are 1000-byte lines (so line mode echoes them at once); totals are rounded
    /// up to whole lines by the runner.
    static let floodLine = 1000
    static let floodChunk = 16384
    /// Enough pattern to send or check `floodChunk` bytes from any phase of a line.
    static let floodPattern: [UInt8] = (0..<(floodChunk + floodLine)).map { offset in
        let column = offset % floodLine
        return column == floodLine - 1 ? UInt8(ascii: "\n") : UInt8(truncatingIfNeeded: 33 + (column &* 7) % 90)
    }

    // MARK: - Registration

    private func wait(_ interest: Interest) {
        try? loop.setInterest(interest, fd: fd, token: token)
    }

    /// Flood --no-read: the server has stopped taking bytes; read the echo from now on.
    func startReading() {
        guard !reading else { return }
        reading = true
        handle([])
    }

    /// Ends the connection without counting it.
    func cancel() {
        finish()
    }

    private func finish() {
        guard state != .done else { return }
        state = .done
        loop.deregister(fd: fd, token: token)
        _ = try? transport.shutdownOutput()  // close_notify for TLS (skipped after a fatal error)
        transport.close()
        onDone(self)
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
