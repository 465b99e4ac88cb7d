// One client connection: the echo state machine, written once for every transport.
import SecureEchoLoop
import SecureEchoSystem
import SecureEchoTLS
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The per-connection settings, fixed at accept time.
struct EchoPolicy: Sendable {
    var mode: EchoMode
    var maxLine: Int
    var handshakeTimeout: UInt64  // nanoseconds
    var idleTimeout: UInt64       // nanoseconds
    /// How long a connection being closed by the server may take to flush and say goodbye.
    var closingGrace: UInt64 = 5_000_000_000
    /// During server shutdown, how long a peer must have sent nothing before its echo counts as
    /// finished (bytes already sent may still be on their way through the kernel).
    var shutdownQuiet: UInt64 = 200_000_000
}

/// handshaking → echoing → flushing → closing → (draining →) closed.
///
/// Every event runs the same pass: retry a blocked write first (OpenSSL requires it before any
/// other I/O), then read and echo until something would block. What the connection waits
/// for next is derived from what blocked it, never toggled ad hoc, so it can neither sleep
/// through work nor keep `.writable` set on an empty buffer.
///
/// Memory is bounded by construction: the connection reads only when all echo it was allowed
/// to send has been sent, so it holds at most one read (64 KiB) plus an unfinished line
/// shorter than `maxLine`. A client that stops reading stops being read from.
final class Connection: EventHandler {
    enum State: Equatable {
        case handshaking
        case echoing
        /// The peer ended its stream, or the server is closing: send what is left.
        case flushing
        /// Everything was echoed: end our stream (FIN or close_notify).
        case closing
        /// We ended our stream first (server-initiated close): read and discard until the peer
        /// ends its own. Closing with unread input would send a RST, and a RST can destroy echo
        /// still in flight to the peer.
        case draining
        case closed
    }

    private unowned let loop: EventLoop
    private let transport: any Transport
    private let policy: EchoPolicy
    let peer: String
    let fd: CInt
    private(set) var token: UInt32 = 0
    private(set) var state: State = .handshaking
    private var framer: LineFramer
    private var output = OutputBuffer()
    /// "TLSv1.3/TLS_AES_256_GCM_SHA384" once a TLS handshake has completed.
    private var negotiated: String?
    private var closeReason = "eof"
    /// The peer ended its stream (FIN or close_notify): nothing more will arrive.
    private var peerEnded = false
    private var bytesIn = 0
    private var bytesOut = 0
    private let openedAt: UInt64
    private var lastActivity: UInt64
    private var lastInput: UInt64
    /// The server is shutting down: finish once the peer has gone quiet.
    private var shuttingDown = false
    /// When set, the connection is closed at this time whatever it is doing.
    private var hardDeadline: UInt64?

    /// Reads per pass before yielding to other connections (fairness); the connection is then
    /// served again before the loop sleeps.
    static let readBudget = 16
    /// A read is only started with room for a whole TLS record's plaintext.
    static let minimumReadRoom = 16 * 1024
    /// Longest unfinished line moved to the read buffer's front; a longer one stays put, so a
    /// peer dribbling bytes onto a long line costs an append per read, not a copy of the line.
    static let maximumCarriedTail = 4 * 1024

    /// Called once when the connection closes (the server gives back its connection slot).
    private let onClose: (() -> Void)?

    init(loop: EventLoop, transport: any Transport, peer: String, policy: EchoPolicy,
                 onClose: (() -> Void)? = nil) {
        self.loop = loop
        self.onClose = onClose
        self.transport = transport
        self.policy = policy
        self.peer = peer
        self.fd = transport.descriptor
        self.framer = LineFramer(mode: policy.mode, maxLine: policy.maxLine)
        self.openedAt = loop.now
        self.lastActivity = loop.now
        self.lastInput = loop.now
    }

    /// Registers with the loop and makes the first attempt (the ClientHello may already be here).
    func start() {
        do {
            token = try loop.register(self, fd: fd, interest: .readable)
        } catch {
            loop.logger.warning("rejected peer=\(peer) via=\(transport.name): \(error)")
            state = .closed
            transport.close()
            onClose?()
            return
        }
        loop.connectionOpened()
        loop.logger.info("accepted peer=\(peer) via=\(transport.name) loop=\(loop.id)")
        handle([])
        // One heap entry per connection at a time, at the earlier of the deadlines that
        // apply; deadlinePassed() moves it on.
        guard state != .closed else { return }
        let idle = policy.idleTimeout
        let first = state == .handshaking ? min(policy.handshakeTimeout, idle) : idle
        loop.schedule(deadline: loop.now + first, fd: fd, token: token)
    }

    // MARK: - Events

    func handle(_ ready: Interest) {
        guard state != .closed else { return }
        do {
            if state == .handshaking {
                switch try transport.handshake() {
                case .wouldBlock(let interest):
                    return wait(for: interest)
                case .done:
                    state = .echoing
                    lastActivity = loop.now
                    negotiated = transport.negotiated
                }
            }
            if state == .echoing || state == .flushing {
                if let interest = try pump() { return wait(for: interest) }
            }
            if state == .closing {
                switch try transport.shutdownOutput() {
                case .wouldBlock(let interest): return wait(for: interest)
                case .done where peerEnded: return close(reason: closeReason)
                case .done: state = .draining
                }
            }
            if state == .draining {
                if let interest = try drain() { return wait(for: interest) }
                close(reason: closeReason)
            }
        } catch {
            var reason = error.description
            if state == .handshaking, let progress = transport.handshakeProgress { reason += " (\(progress))" }
            close(reason: reason)
        }
    }

    func deadlinePassed(now: UInt64) {
        guard state != .closed else { return }
        if let hardDeadline, now >= hardDeadline {
            return close(reason: closeReason)
        }
        if shuttingDown && state == .echoing {
            let quietUntil = lastInput + policy.shutdownQuiet
            guard now >= quietUntil else {
                return loop.schedule(deadline: quietUntil, fd: fd, token: token)
            }
            return beginClosing(reason: "shutdown")
        }
        if state == .handshaking {
            let handshakeUntil = openedAt + policy.handshakeTimeout
            guard now >= handshakeUntil else {
                return loop.schedule(deadline: handshakeUntil, fd: fd, token: token)
            }
            return close(reason: "handshake timeout" + (transport.handshakeProgress.map { " (\($0))" } ?? ""))
        }
        // Activity only records a time; the heap entry is moved here, once per timeout at most.
        let idleUntil = lastActivity + policy.idleTimeout
        if now < idleUntil {
            loop.schedule(deadline: idleUntil, fd: fd, token: token)
        } else if state == .echoing {
            beginClosing(reason: "idle timeout")
        } else {
            close(reason: "idle timeout")  // stuck flushing to a peer that never reads
        }
    }

    /// The server stops: a handshake in progress is dropped; an echoing connection finishes
    /// what its peer already sent (once the peer has gone quiet), then closes politely.
    func beginShutdown() {
        switch state {
        case .handshaking:
            close(reason: "shutdown")
        case .echoing:
            shuttingDown = true
            loop.schedule(deadline: max(loop.now, lastInput + policy.shutdownQuiet), fd: fd, token: token)
        case .flushing, .closing, .draining, .closed:
            break
        }
    }

    /// All echo was sent and our stream ended; only the peer's end of stream is awaited.
    var hasFinishedEcho: Bool { state == .draining }

    /// Closes now, whatever is pending.
    func abort(reason: String) {
        close(reason: reason)
    }

    /// Ends the connection politely: echo what was received (an unfinished line included),
    /// end our stream, and give up after the closing grace whatever the peer does.
    func beginClosing(reason: String) {
        closeReason = reason
        output.release(framer.finish())
        state = .flushing
        let deadline = loop.now + policy.closingGrace
        hardDeadline = deadline
        loop.schedule(deadline: deadline, fd: fd, token: token)
        handle([])
    }

    // MARK: - Echo

    /// Writes what may be sent and reads what there is, until something would block
    /// (returns what to wait for) or the state moves past echoing (returns nil).
    private func pump() throws(TransportError) -> Interest? {
        // One strong reference for the whole pass instead of one per use of the unowned property.
        let loop = self.loop
        var reads = 0
        while true {
            if output.sendableCount > 0, let blocked = try flush() {
                return blocked
            }
            if state == .flushing {
                state = .closing
                return nil
            }
            guard reads < Self.readBudget else {
                loop.servePending(fd: fd, token: token)
                return .readable
            }
            // A short unfinished line moves to the front of the read buffer, so the next
            // lines join it there and go out in one write instead of being copied behind it.
            var filled = 0
            if output.sendableCount == 0, output.heldCount > 0, output.heldCount <= Self.maximumCarriedTail {
                filled = output.moveHeld(to: loop.readBuffer)
            }
            let carried = filled
            // Gather what has arrived into the loop's buffer, then echo it in one pass: a TLS
            // record per read would otherwise become a record (or two, around a line's end)
            // and a send per read.
            var blockedRead: Interest?
            gathering: while reads < Self.readBudget, loop.readBuffer.count - filled >= Self.minimumReadRoom {
                reads += 1
                switch try transport.read(into: UnsafeMutableRawBufferPointer(rebasing: loop.readBuffer[filled...])) {
                case .bytes(let count):
                    filled += count
                case .wouldBlock(let interest):
                    blockedRead = interest
                    break gathering
                case .endOfStream:
                    peerEnded = true
                    break gathering
                }
            }
            if filled > carried {
                bytesIn += filled - carried
                // One read of the loop's clock: each access to another module's stored
                // property is a dynamic exclusivity check.
                let now = loop.now
                lastActivity = now
                lastInput = now
            }
            let blockedWrite = filled > 0 ? try echo(UnsafeRawBufferPointer(rebasing: loop.readBuffer[0..<filled]), carried: carried) : nil
            if peerEnded {
                output.release(framer.finish())
                state = .flushing
            }
            if let blockedWrite { return blockedWrite }
            if let blockedRead, !peerEnded {
                if transport.hasBufferedInput { loop.servePending(fd: fd, token: token) }
                return blockedRead
            }
        }
    }

    /// Discards input until the peer ends its stream (returns nil) or it would block. Reads as
    /// many times per pass as echo may: a peer flooding after our end of stream waits its turn
    /// like any other, and the closing grace cuts it off in the end.
    private func drain() throws(TransportError) -> Interest? {
        for _ in 0..<Self.readBudget {
            switch try transport.read(into: loop.readBuffer) {
            case .bytes(let count): bytesIn += count
            case .wouldBlock(let interest): return interest
            case .endOfStream: return nil
            }
        }
        loop.servePending(fd: fd, token: token)
        return .readable
    }

    /// Input in the loop's read buffer: the first `carried` bytes are the held line moved out
    /// of the output buffer, the rest are new. When nothing is queued, the releasable prefix is
    /// written straight from the read buffer; only what the socket refused, plus an unfinished
    /// line, is copied into the connection's own buffer.
    private func echo(_ bytes: UnsafeRawBufferPointer, carried: Int) throws(TransportError) -> Interest? {
        let fresh = UnsafeRawBufferPointer(rebasing: bytes[carried...])
        let releasable = framer.ingest(fresh)
        guard output.isEmpty else {
            output.append(fresh)
            output.release(releasable)
            return nil
        }
        var sent = 0
        var blocked: Interest?
        while sent < releasable {
            switch try transport.write(UnsafeRawBufferPointer(rebasing: bytes[sent..<releasable])) {
            case .bytes(let count):
                sent += count
                bytesOut += count
            case .wouldBlock(let interest):
                blocked = interest
            case .endOfStream:
                throw Self.endedWhileWriting
            }
            if blocked != nil { break }
        }
        output.append(UnsafeRawBufferPointer(rebasing: bytes[sent...]))
        output.release(releasable - sent)
        return blocked
    }

    /// Sends queued echo until it is gone (nil) or the transport would block (what to wait for).
    private func flush() throws(TransportError) -> Interest? {
        while output.sendableCount > 0 {
            switch try transport.write(output.sendable) {
            case .bytes(let count):
                output.consume(count)
                bytesOut += count
                lastActivity = loop.now
            case .wouldBlock(let interest):
                return interest
            case .endOfStream:
                throw Self.endedWhileWriting
            }
        }
        return nil
    }

    /// A write answered end of stream: the peer's close_notify arrived while echo was pending.
    private static let endedWhileWriting = TransportError(.peerStoppedReading, "close_notify received during a write")

    // MARK: - Registration and closing

    private func wait(for interest: Interest) {
        assert(!interest.isEmpty, "a live connection must wait for something")
        do {
            try loop.setInterest(interest, fd: fd, token: token)
        } catch {
            close(reason: "\(error)")
        }
    }

    private func close(reason: String) {
        guard state != .closed else { return }
        state = .closed
        loop.deregister(fd: fd, token: token)
        loop.connectionClosed()
        transport.close()
        output.reset()
        onClose?()
        let durationMs = (MonotonicClock.now() - openedAt) / 1_000_000
        let tls = negotiated.map { " tls=\($0)" } ?? ""
        loop.logger.info("closed peer=\(peer) via=\(transport.name)\(tls) bytes_in=\(bytesIn) bytes_out=\(bytesOut) duration_ms=\(durationMs) reason=\"\(reason)\"")
    }
}
