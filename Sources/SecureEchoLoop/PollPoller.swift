// Portable poll(2) backend: a dense pollfd array plus an fd -> slot index,
// removal by swapping the last entry into the gap (as libevent's poll.c does).
import SecureEchoSystem
#if canImport(Glibc)
import Glibc
#endif

public final class PollPoller: Poller {
    public let kind = PollerKind.poll
    private var pollfds: [pollfd] = []
    private var tokens: [UInt32] = []
    /// slotByFD[fd] is the index into `pollfds`, or -1.
    private var slotByFD: [Int32] = []

    public init() {}

    public func register(fd: CInt, token: UInt32, interest: Interest, receive: CompletedReceive?, send: QueuedSend?) throws(SystemCallError) {
        let fdIndex = Int(fd)
        if fdIndex >= slotByFD.count {
            slotByFD.append(contentsOf: repeatElement(-1, count: fdIndex - slotByFD.count + 1))
        }
        guard slotByFD[fdIndex] < 0 else { throw SystemCallError(call: "poll register fd \(fd)", errno: EEXIST) }
        slotByFD[fdIndex] = Int32(pollfds.count)
        pollfds.append(pollfd(fd: fd, events: Self.events(for: interest), revents: 0))
        tokens.append(token)
        checkInvariants()
    }

    public func modify(fd: CInt, token: UInt32, interest: Interest) throws(SystemCallError) {
        let slot = try slot(of: fd, "poll modify")
        pollfds[slot].events = Self.events(for: interest)
        tokens[slot] = token
    }

    public func deregister(fd: CInt) throws(SystemCallError) {
        let slot = try slot(of: fd, "poll deregister")
        let last = pollfds.count - 1
        if slot != last {
            pollfds[slot] = pollfds[last]
            tokens[slot] = tokens[last]
            slotByFD[Int(pollfds[slot].fd)] = Int32(slot)
        }
        pollfds.removeLast()
        tokens.removeLast()
        slotByFD[Int(fd)] = -1
        checkInvariants()
    }

    public func wait(timeoutMilliseconds: CInt, into events: inout [PollEvent]) throws(SystemCallError) {
        events.removeAll(keepingCapacity: true)
        let count = pollfds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeoutMilliseconds) }
        if count < 0 {
            let err = errno
            if err == EINTR { return }
            throw SystemCallError(call: "poll", errno: err)
        }
        var remaining = Int(count)
        var i = 0
        while remaining > 0 && i < pollfds.count {
            let revents = Int32(pollfds[i].revents)
            if revents != 0 {
                remaining -= 1
                var ready: Interest = []
                if revents & Int32(POLLIN) != 0 { ready.insert(.readable) }
                if revents & Int32(POLLOUT) != 0 { ready.insert(.writable) }
                if revents & Int32(POLLERR | POLLHUP | POLLNVAL) != 0 { ready = [.readable, .writable] }
                events.append(PollEvent(fd: pollfds[i].fd, token: tokens[i], ready: ready))
            }
            i += 1
        }
    }

    private func slot(of fd: CInt, _ call: String) throws(SystemCallError) -> Int {
        let fdIndex = Int(fd)
        guard fdIndex >= 0, fdIndex < slotByFD.count, slotByFD[fdIndex] >= 0 else {
            throw SystemCallError(call: "\(call) fd \(fd)", errno: ENOENT)
        }
        return Int(slotByFD[fdIndex])
    }

    private static func events(for interest: Interest) -> Int16 {
        var e: Int16 = 0
        if interest.contains(.readable) { e |= Int16(POLLIN) }
        if interest.contains(.writable) { e |= Int16(POLLOUT) }
        return e
    }

    /// Debug builds only: every slot and the index agree.
    private func checkInvariants() {
        #if DEBUG
        assert(pollfds.count == tokens.count)
        for (slot, p) in pollfds.enumerated() {
            assert(slotByFD[Int(p.fd)] == Int32(slot), "poll index out of sync for fd \(p.fd)")
        }
        #endif
    }
}
