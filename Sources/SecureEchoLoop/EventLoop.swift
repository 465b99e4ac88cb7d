// One thread, one poller: dispatches readiness events to handlers, serves handlers that
// have work the poller cannot see (bytes already inside OpenSSL), and runs deadlines.
// It sleeps in the poller whenever nothing is pending, so an idle server uses no CPU.
import SecureEchoSystem
import Logging

/// Something registered with the loop: a listener or a connection.
package protocol EventHandler: AnyObject {
    /// The descriptor is ready for `ready`, or the handler asked to be served again (`ready` empty).
    func handle(_ ready: Interest)
    /// A deadline the handler scheduled has passed (it may have moved since; the handler checks).
    func deadlinePassed(now: UInt64)
}

package final class EventLoop {
    private struct Registration {
        var token: UInt32
        var interest: Interest
        let handler: EventHandler
    }

    package let poller: any Poller
    package let logger: Logger
    /// Which of the server's loops this is, for logs.
    package let id: Int
    /// One read buffer shared by every connection on this loop: a connection owns memory
    /// only for echo it could not send yet.
    package let readBuffer: UnsafeMutableRawBufferPointer
    package static let readBufferSize = 64 * 1024

    // The loop's own thread is the only one that touches these, and no access to them spans a
    // handler call (handlers append to `pending` while the loop walks `pendingSpare`), so they
    // skip Swift's run-time exclusivity check: a runtime call per access, per event.
    /// Indexed by descriptor: fds are small, dense integers.
    @exclusivity(unchecked) private var registrations: [Registration?] = []
    private var lastToken: UInt32 = 0
    @exclusivity(unchecked) private var pending: [(fd: CInt, token: UInt32)] = []
    @exclusivity(unchecked) private var pendingSpare: [(fd: CInt, token: UInt32)] = []
    @exclusivity(unchecked) private var deadlines = DeadlineHeap()
    @exclusivity(unchecked) private var events: [PollEvent] = []
    @exclusivity(unchecked) package private(set) var now: UInt64 = MonotonicClock.now()
    package private(set) var registeredCount = 0
    /// Open client connections on this loop (listeners and helpers are not counted).
    package private(set) var connectionCount = 0
    /// Wake-ups, events and pass lengths, read by /metrics from any thread.
    package let statistics = LoopStatistics()

    package init(poller: any Poller, logger: Logger, id: Int = 0) {
        self.poller = poller
        self.logger = logger
        self.id = id
        readBuffer = .allocate(byteCount: Self.readBufferSize, alignment: 16)
        events.reserveCapacity(256)
    }

    deinit { readBuffer.deallocate() }

    // MARK: - Registrations

    /// Registers `handler` for `fd` and returns its token, which every later call names.
    /// `receive`, `send`: the socket's, for a poller that does socket I/O itself.
    package func register(_ handler: EventHandler, fd: CInt, interest: Interest,
                          receive: CompletedReceive? = nil, send: QueuedSend? = nil,
                          accepts: CompletedAccept? = nil) throws(SystemCallError) -> UInt32 {
        lastToken &+= 1
        if lastToken == 0 { lastToken = 1 }
        let token = lastToken
        if let accepts {
            try poller.register(listener: fd, token: token, interest: interest, accepts: accepts)
        } else {
            try poller.register(fd: fd, token: token, interest: interest, receive: receive, send: send)
        }
        let index = Int(fd)
        if index >= registrations.count {
            registrations.append(contentsOf: repeatElement(nil, count: max(index + 1 - registrations.count, registrations.count)))
        }
        registrations[index] = Registration(token: token, interest: interest, handler: handler)
        registeredCount += 1
        return token
    }

    /// Changes what `fd` waits for; a no-op when it already waits for exactly that.
    package func setInterest(_ interest: Interest, fd: CInt, token: UInt32) throws(SystemCallError) {
        let index = Int(fd)
        guard index < registrations.count, let registration = registrations[index],
              registration.token == token, registration.interest != interest else { return }
        try poller.modify(fd: fd, token: token, interest: interest)
        registrations[index]?.interest = interest
    }

    /// Forgets `fd`. Call before closing it: epoll would otherwise report it under a reused number.
    package func deregister(fd: CInt, token: UInt32) {
        let index = Int(fd)
        guard index < registrations.count, registrations[index]?.token == token else { return }
        registrations[index] = nil
        registeredCount -= 1
        deadlines.cancel(fd: fd)
        do {
            try poller.deregister(fd: fd)
        } catch {
            logger.warning("deregister failed", metadata: ["event": "deregister_failed", "fd": "\(fd)", "reason": "\(error)"])
        }
    }

    package func connectionOpened() {
        connectionCount += 1
    }

    package func connectionClosed() {
        connectionCount -= 1
    }

    /// Every registered handler, as a snapshot that handlers may deregister from.
    package var handlers: [EventHandler] {
        registrations.compactMap { $0?.handler }
    }

    /// Serve this handler again before the loop sleeps (it has input the poller cannot see).
    package func servePending(fd: CInt, token: UInt32) {
        pending.append((fd, token))
    }

    /// Deadlines waiting to fire: at most one per registered descriptor.
    package var scheduledDeadlines: Int { deadlines.count }

    /// Calls the handler's `deadlinePassed` at or soon after `deadline` (monotonic nanoseconds).
    /// One deadline per descriptor: the earliest asked for wins, deregistering cancels it.
    package func schedule(deadline: UInt64, fd: CInt, token: UInt32) {
        deadlines.schedule(deadline, fd: fd, token: token)
    }

    // MARK: - Running

    /// One pass: wait for events (not at all when something is pending), dispatch them,
    /// serve the pending list, then fire due deadlines.
    package func runOnce(maximumWaitMilliseconds: CInt = -1) throws(SystemCallError) {
        try poller.wait(timeoutMilliseconds: waitTimeout(cap: maximumWaitMilliseconds), into: &events)
        now = MonotonicClock.now()
        for event in events {
            handler(fd: event.fd, token: event.token)?.handle(event.ready)
        }
        if !pending.isEmpty {
            swap(&pending, &pendingSpare)
            for (fd, token) in pendingSpare {
                handler(fd: fd, token: token)?.handle([])
            }
            pendingSpare.removeAll(keepingCapacity: true)
        }
        while let entry = deadlines.popExpired(now: now) {
            handler(fd: entry.fd, token: entry.token)?.deadlinePassed(now: now)
        }
        statistics.passed(events: events.count, nanoseconds: MonotonicClock.now() &- now)
    }

    /// The handler registered for `fd` under `token`; nil for a stale event or timer.
    private func handler(fd: CInt, token: UInt32) -> EventHandler? {
        let index = Int(fd)
        guard index >= 0, index < registrations.count, let registration = registrations[index],
              registration.token == token else { return nil }
        return registration.handler
    }

    private func waitTimeout(cap: CInt) -> CInt {
        if !pending.isEmpty { return 0 }
        var timeout = cap
        if let earliest = deadlines.earliest {
            let current = MonotonicClock.now()
            // Round up so the loop does not wake a fraction of a millisecond early and spin.
            let millis = earliest > current ? (earliest - current + 999_999) / 1_000_000 : 0
            let bounded = CInt(clamping: millis)
            timeout = timeout < 0 ? bounded : min(timeout, bounded)
        }
        return timeout
    }
}
