// One event loop with its own listeners (SO_REUSEPORT when there are several loops), run on
// its own thread. Loops share nothing on the per-connection path; other threads reach a loop
// only by waking it through its eventfd.
import SecureEchoLoop
import SecureEchoSystem
import SecureEchoTLS
import Logging
import Synchronization

final class LoopWorker {
    let loop: EventLoop
    let shared: SharedServerState
    /// What this loop counts for /metrics; only this loop's thread writes it.
    let counters: LoopCounters
    private(set) var listeners: [Listener] = []
    /// Wakes this loop from any thread; it then checks the shared shutdown requests.
    let wakeup: EventFD
    private var waker: Waker?
    private var shuttingDown = false
    private let shutdownGrace: Double

    init(loop: EventLoop, shared: SharedServerState, shutdownGrace: Double) throws(SystemCallError) {
        self.loop = loop
        counters = LoopCounters(passes: loop.statistics)
        self.shared = shared
        self.shutdownGrace = shutdownGrace
        wakeup = try EventFD()
        let waker = Waker(descriptor: wakeup)
        waker.token = try loop.register(waker, fd: wakeup.descriptor, interest: .readable)
        waker.onWake = { [unowned self] in self.checkRequests() }
        waker.onGraceExpired = { [unowned self] in self.cutRemaining() }
        self.waker = waker
    }

    func add(_ listener: Listener) {
        listeners.append(listener)
    }

    /// Serves until a shutdown has begun, this loop's last connection has closed and
    /// `othersFinished` says so. Loop 0 reads the signals for every loop, so it keeps serving
    /// (asleep in its poller, woken by each loop that ends) until the others are done: a second
    /// SIGTERM must still be heard while another loop finishes its connections.
    func run(until othersFinished: () -> Bool = { true }) throws(SystemCallError) {
        while !(shuttingDown && loop.connectionCount == 0 && othersFinished()) {
            try loop.runOnce()
        }
    }

    /// The loop cannot go on (its poller failed): close its listeners, so that the kernel stops
    /// queueing clients nobody would accept, and its connections.
    func abandon() {
        shuttingDown = true
        for listener in listeners { listener.stop() }
        listeners.removeAll()
        for case let connection as Connection in loop.handlers { connection.abort(reason: "event loop failed") }
    }

    /// Acts on what the shared state asks for; runs on this loop's thread.
    func checkRequests() {
        if shared.shutdownRequested.load(ordering: .relaxed) && !shuttingDown { beginShutdown() }
        if shared.cutRequested.load(ordering: .relaxed) { cutRemaining() }
    }

    private func beginShutdown() {
        shuttingDown = true
        for listener in listeners { listener.stop() }
        listeners.removeAll()
        for case let connection as Connection in loop.handlers { connection.beginShutdown() }
        if let waker {
            loop.schedule(deadline: loop.now + UInt64(shutdownGrace * 1e9), fd: wakeup.descriptor, token: waker.token)
        }
    }

    private func cutRemaining() {
        for case let connection as Connection in loop.handlers {
            // A connection only waiting for its peer to close has delivered everything.
            if !connection.hasFinishedEcho { shared.cutAtGrace.add(1, ordering: .relaxed) }
            counters.timedOut(.shutdownGrace)
            connection.abort(reason: "shutdown grace expired")
        }
    }
}

/// The loop's eventfd as an event handler, and the owner of the loop's shutdown deadline.
private final class Waker: EventHandler {
    let descriptor: EventFD
    var token: UInt32 = 0
    var onWake: () -> Void = {}
    var onGraceExpired: () -> Void = {}

    init(descriptor: EventFD) {
        self.descriptor = descriptor
    }

    func handle(_ ready: Interest) {
        descriptor.drain()
        onWake()
    }

    func deadlinePassed(now: UInt64) {
        onGraceExpired()
    }
}
