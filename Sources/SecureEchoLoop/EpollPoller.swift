// Linux epoll(7) backend, level-triggered.
import SecureEchoSystem
#if os(Linux)
import CSystem
import Glibc

public final class EpollPoller: Poller {
    public let kind = PollerKind.epoll
    private let epfd: CInt
    private let capacity = 256
    private let buffer: UnsafeMutablePointer<epoll_event>

    public init() throws(SystemCallError) {
        epfd = try syscall("epoll_create1", { epoll_create1(CInt(EPOLL_CLOEXEC)) })
        buffer = .allocate(capacity: capacity)
    }

    deinit {
        buffer.deallocate()
        _ = close(epfd)
    }

    public func register(fd: CInt, token: UInt32, interest: Interest, receive: CompletedReceive?, send: QueuedSend?) throws(SystemCallError) {
        try control(EPOLL_CTL_ADD, "epoll_ctl(ADD)", fd: fd, token: token, interest: interest)
    }

    public func modify(fd: CInt, token: UInt32, interest: Interest) throws(SystemCallError) {
        try control(EPOLL_CTL_MOD, "epoll_ctl(MOD)", fd: fd, token: token, interest: interest)
    }

    public func deregister(fd: CInt) throws(SystemCallError) {
        var unused = epoll_event()
        let epfd = self.epfd
        try syscall("epoll_ctl(DEL)", { epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &unused) })
    }

    public func wait(timeoutMilliseconds: CInt, into events: inout [PollEvent]) throws(SystemCallError) {
        events.removeAll(keepingCapacity: true)
        let epfd = self.epfd, buffer = self.buffer, capacity = CInt(self.capacity)
        let count = epoll_wait(epfd, buffer, capacity, timeoutMilliseconds)
        if count < 0 {
            let err = errno
            if err == EINTR { return }
            throw SystemCallError(call: "epoll_wait", errno: err)
        }
        for i in 0..<Int(count) {
            let e = buffer[i]
            // The 64-bit user data carries fd and token, so no lookup is needed to validate the event.
            let fd = CInt(truncatingIfNeeded: e.data.u64 >> 32)
            let token = UInt32(truncatingIfNeeded: e.data.u64)
            var ready: Interest = []
            if e.events & EPOLLIN.rawValue != 0 { ready.insert(.readable) }
            if e.events & EPOLLOUT.rawValue != 0 { ready.insert(.writable) }
            if e.events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 { ready = [.readable, .writable] }
            events.append(PollEvent(fd: fd, token: token, ready: ready))
        }
    }

    private func control(_ op: CInt, _ name: @autoclosure () -> String, fd: CInt, token: UInt32, interest: Interest) throws(SystemCallError) {
        var event = epoll_event()
        var flags: UInt32 = 0
        if interest.contains(.readable) { flags |= EPOLLIN.rawValue }
        if interest.contains(.writable) { flags |= EPOLLOUT.rawValue }
        event.events = flags
        event.data.u64 = UInt64(UInt32(bitPattern: fd)) << 32 | UInt64(token)
        let epfd = self.epfd
        try syscall(name(), { epoll_ctl(epfd, op, fd, &event) })
    }
}
#endif
