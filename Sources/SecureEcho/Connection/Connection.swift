// One client connection: the state machine every transport and every application share.
import SecureEchoLoop
import SecureEchoSystem
import SecureEchoTLS
import Logging

/// The per-connection limits, fixed at accept time.
struct ConnectionPolicy: Sendable {
    var handshakeTimeout: UInt64  // nanoseconds, preamble included
    var idleTimeout: UInt64       // nanoseconds
    /// How long a connection being closed by the server may take to flush and say goodbye.
    var closingGrace: UInt64 = 5_000_000_000
    /// During server shutdown, how long a peer must have sent nothing before its echo counts as
    /// finished (bytes already sent may still be on their way through the kernel).
    var shutdownQuiet: UInt64 = 200_000_000
    /// Nanoseconds between bytes sent, one byte at a time (the slow-echo profile); nil: as fast
    /// as the peer reads.
    var pace: UInt64? = nil
}

/// handshaking (preamble, then the transport's handshake) → running the application →
/// flushing → closing → (draining →) closed.
///
/// A connection is a transport (TLS or plain), an optional preamble, the handshake and one
/// application; only the application differs between protocols, and it does no I/O. Every
/// event runs the same pass (Connection+Pass.swift): retry a blocked write first (OpenSSL
/// requires it before any other I/O), then read and answer until something would block. What
/// the connection waits for next is derived from what blocked it, never toggled ad hoc, so it
/// can neither sleep through work nor keep `.writable` set on an empty buffer.
///
/// Memory is bounded by construction: the connection reads only when all output it was
/// allowed to send has been sent, so it holds at most one read (64 KiB) plus what the
/// application holds back (echo: an unfinished line shorter than `--max-line`). A client that
/// stops reading stops being read from.
final class Connection: EventHandler {
    enum State: Equatable {
        case handshaking
        /// The application runs.
        case echoing
        /// The peer ended its stream, the application is done, or the server is closing: send
        /// what is left.
        case flushing
        /// Everything was sent: end our stream (FIN or close_notify).
        case closing
        /// We ended our stream first (server-initiated close): read and discard until the peer
        /// ends its own. Closing with unread input would send a RST, and a RST can destroy echo
        /// still in flight to the peer.
        case draining
        case closed
    }

    unowned let loop: EventLoop
    let transport: any Transport
    let policy: ConnectionPolicy
    private(set) var peer: String
    /// The socket's own peer, when a preamble named the client behind it (a PROXY header).
    private(set) var proxy: String?
    let fd: CInt
    private(set) var token: UInt32 = 0
    // The properties every echo touches skip Swift's run-time exclusivity check (a call into the
    // runtime per access, ~40 % of a plain echo's instructions, measured with
    // scripts/callgrind-echo.sh). Safe because only the loop's thread touches a connection and
    // none of them is passed inout to, or held across, a call that could reach it again.
    @exclusivity(unchecked) var state: State = .handshaking
    private var preamble: (any Preamble)?
    @exclusivity(unchecked) var application: any Application
    @exclusivity(unchecked) var output = OutputBuffer()
    /// The handshake completed (what it settled is read from the transport when the close is
    /// logged, so an idle connection keeps no copy of it).
    private var handshaken = false
    /// The client's JA4, kept for the close line at debug level only.
    var ja4: String?
    var closeReason = "eof"
    /// How the stream ends once everything is sent.
    var ending = Ending.polite
    /// With a pace, when the next byte may go.
    var nextPacedWrite: UInt64 = 0
    /// The peer ended its stream (FIN or close_notify): nothing more will arrive.
    @exclusivity(unchecked) var peerEnded = false
    @exclusivity(unchecked) var bytesIn = 0
    @exclusivity(unchecked) var bytesOut = 0
    let openedAt: UInt64
    @exclusivity(unchecked) var lastActivity: UInt64
    @exclusivity(unchecked) var lastInput: UInt64
    /// The server is shutting down: finish once the peer has gone quiet.
    private var shuttingDown = false
    /// When set, the connection is closed at this time whatever it is doing.
    private var hardDeadline: UInt64?
    /// Called once when the connection closes (the server gives back its connection slot).
    private let onClose: (() -> Void)?
    /// The loop's counters for /metrics, and this connection's transport among them.
    let counters: LoopCounters
    let traffic: TransportCounters

    init(loop: EventLoop, transport: any Transport, peer: String, policy: ConnectionPolicy,
         application: any Application, preamble: (any Preamble)? = nil,
         counters: LoopCounters = LoopCounters(), traffic: TransportCounters? = nil, onClose: (() -> Void)? = nil) {
        self.loop = loop
        self.counters = counters
        self.traffic = traffic ?? counters.transport(transport.name)
        self.onClose = onClose
        self.transport = transport
        self.policy = policy
        self.peer = peer
        self.fd = transport.descriptor
        self.application = application
        self.preamble = preamble
        self.openedAt = loop.now
        self.lastActivity = loop.now
        self.lastInput = loop.now
    }

    /// Registers with the loop and makes the first attempt (the ClientHello may already be here).
    func start() {
        do {
            token = try loop.register(self, fd: fd, interest: .readable, receive: transport.completedReceive,
                                      send: transport.queuedSend)
        } catch {
            loop.logger.warning("rejected", metadata: ["event": "rejected", "peer": "\(peer)", "transport": "\(transport.name)", "reason": "\(error)"])
            state = .closed
            transport.close()
            onClose?()
            return
        }
        loop.connectionOpened()
        traffic.accepted.add()
        loop.logger.info("accepted", metadata: ["event": "accepted", "peer": "\(peer)", "transport": "\(transport.name)", "loop": "\(loop.id)"])
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
        // Woken by the poller while a paced byte waits: only an error or hang-up does that.
        if policy.pace != nil, !ready.isEmpty, output.sendableCount > 0 { nextPacedWrite = 0 }
        do {
            if state == .handshaking {
                if let interest = try readPreamble() { return wait(for: interest) }
                switch try transport.handshake() {
                case .wouldBlock(let interest):
                    return wait(for: interest)
                case .done:
                    state = .echoing
                    lastActivity = loop.now
                    handshaken = true
                    countHandshake()
                    queue(application.start(SessionInfo(peer: peer, transport: transport)))
                    transport.releaseClientHello()
                }
            }
            if state == .echoing || state == .flushing {
                if let interest = try pump() { return wait(for: interest) }
            }
            if state == .closing {
                if ending != .polite {
                    // An abrupt close still delivers what was written (a reset discards it anyway).
                    if ending != .reset, transport.hasUnsentOutput { return wait(for: .writable) }
                    if ending == .reset { transport.resetOnClose() }
                    return close(reason: closeReason)
                }
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
            // A rejected preamble says what it got; a failed handshake also says how far it got.
            close(reason: error.description + (error.kind == .preambleRejected ? "" : handshakeProgress),
                  failure: Self.failure(error.kind))
        }
    }

    /// Runs the preamble, if any is left; returns what it waits for, or nil once it is done.
    private func readPreamble() throws(TransportError) -> Interest? {
        guard var stage = preamble else { return nil }
        switch try stage.advance(transport, scratch: loop.readBuffer) {
        case .wouldBlock(let interest):
            preamble = stage
            return interest
        case .done:
            if let client = stage.client {
                proxy = peer
                peer = client
            }
            preamble = nil
            return nil
        }
    }

    /// " (how far the handshake got)" while handshaking, for close reasons.
    private var handshakeProgress: String {
        guard state == .handshaking else { return "" }
        if let preamble { return " (\(preamble.progress))" }
        return transport.handshakeProgress.map { " (\($0))" } ?? ""
    }

    func deadlinePassed(now: UInt64) {
        guard state != .closed else { return }
        if let hardDeadline, now >= hardDeadline {
            return close(reason: closeReason)
        }
        if policy.pace != nil, output.sendableCount > 0, now >= nextPacedWrite, state == .echoing || state == .flushing {
            handle([])
            guard state != .closed else { return }
            // The pace took this connection's one heap entry: put its other deadlines back.
            if let hardDeadline { loop.schedule(deadline: hardDeadline, fd: fd, token: token) }
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
            counters.timedOut(.handshake)
            return close(reason: "handshake timeout" + handshakeProgress, failure: .timeout)
        }
        // Activity only records a time; the heap entry is moved here, once per timeout at most.
        let idleUntil = lastActivity + policy.idleTimeout
        if now < idleUntil {
            loop.schedule(deadline: idleUntil, fd: fd, token: token)
        } else if state == .echoing {
            counters.timedOut(.idle)
            beginClosing(reason: "idle timeout")
        } else {
            counters.timedOut(.idle)
            close(reason: "idle timeout")  // stuck flushing to a peer that never reads
        }
    }

    /// The server stops: a handshake in progress is dropped; a running application finishes
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

    /// All output was sent and our stream ended; only the peer's end of stream is awaited.
    var hasFinishedEcho: Bool { state == .draining }

    /// Closes now, whatever is pending.
    func abort(reason: String) {
        close(reason: reason)
    }

    /// Ends the connection politely: answer what was received (echo: an unfinished line
    /// included), end our stream, and give up after the closing grace whatever the peer does.
    func beginClosing(reason: String) {
        queue(application.finish())
        finishAfterSending(reason: reason)
        handle([])
    }

    /// Nothing more is read for the application: send what is queued, then close politely
    /// within the closing grace.
    func finishAfterSending(reason: String) {
        closeReason = reason
        state = .flushing
        let deadline = loop.now + policy.closingGrace
        hardDeadline = deadline
        loop.schedule(deadline: deadline, fd: fd, token: token)
    }

    // MARK: - Registration and closing

    /// No interest at all means a paced write waits for its time: the poller reports only an
    /// error or hang-up then, and a wake-up for either sends the byte at once (and fails).
    private func wait(for interest: Interest) {
        assert(!interest.isEmpty || policy.pace != nil, "a live connection must wait for something")
        if interest.isEmpty { loop.schedule(deadline: nextPacedWrite, fd: fd, token: token) }
        do {
            try loop.setInterest(interest, fd: fd, token: token)
        } catch {
            close(reason: "\(error)")
        }
    }

    /// `failure` is counted when the connection closes before its handshake completed.
    private func close(reason: String, failure: HandshakeFailure = .shutdown) {
        guard state != .closed else { return }
        // What the client offered, when its handshake did not complete: the log says it.
        var offer: Result<ClientHello, ClientHelloError>?
        if state == .handshaking {
            counters.handshakeFailed(failure)
            if failure == .proxyHeader { counters.proxyRejected.add() }
            offer = transport.clientHello
            if case .success(let hello)? = offer { counters.clientHelloReceived(hello) }
        }
        traffic.closed.add()
        state = .closed
        loop.deregister(fd: fd, token: token)
        loop.connectionClosed()
        // Read before the transport lets go of its session, and only when it will be logged.
        let logged = loop.logger.logLevel <= .info
        let session = logged && handshaken ? transport.session : nil
        transport.close()
        output.reset()
        onClose?()
        if logged { loop.logger.info("closed", metadata: closedEvent(reason: reason, session: session, offer: offer)) }
    }
}
