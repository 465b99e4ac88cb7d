// An owning wrapper around one non-blocking TCP socket descriptor.
#if canImport(Glibc)
import CSystem
import Glibc
#endif

/// Owns a socket file descriptor. `close()` is idempotent; `deinit` closes what is still open,
/// so a descriptor can never leak when its owner goes away.
package final class Socket {
    // Read on every read and write; written only by close() and once at registration.
    // Unchecked exclusivity: a socket belongs to one thread, and no access spans a call.
    @exclusivity(unchecked) package private(set) var descriptor: CInt
    /// Set, before any read, where the loop's poller receives for its sockets (io_uring):
    /// reads then take what the poller received first. Nil: every read is a system call.
    @exclusivity(unchecked) package var completedReceive: CompletedReceive?
    /// Set with `completedReceive` where the poller also sends (io_uring): writes are queued
    /// there and return at once. Nil: every write is a system call.
    @exclusivity(unchecked) package var queuedSend: QueuedSend?
    /// Set on a listening socket whose poller accepts for it (io_uring): accept() takes the
    /// descriptors the poller accepted. Nil: every accept is a system call.
    package var completedAccept: CompletedAccept?

    /// Bytes written that the kernel has not yet confirmed sent (only with a queued send):
    /// a FIN or a close must wait for them.
    package var hasUnsentOutput: Bool { queuedSend.map { !$0.isEmpty } ?? false }

    package init(takingOwnershipOf descriptor: CInt) {
        precondition(descriptor >= 0, "invalid descriptor \(descriptor)")
        self.descriptor = descriptor
    }

    deinit { close() }

    package var isOpen: Bool { descriptor >= 0 }

    package func close() {
        guard descriptor >= 0 else { return }
        // Linux releases the descriptor even when close reports EINTR, so it is never retried.
        _ = Glibc.close(descriptor)
        descriptor = -1
    }

    // MARK: - Listening

    /// A non-blocking listening socket bound to `address`, with SO_REUSEADDR. An IPv6 socket
    /// accepts IPv4 clients too when `dualStack` is set, and only IPv6 otherwise (whatever
    /// the system default), so that binding `::` next to an IPv4 address cannot collide.
    /// With `reusePort`, several sockets (one per event loop) share the address and the kernel
    /// spreads new connections across them.
    package static func listen(on address: SocketAddress, dualStack: Bool = false, reusePort: Bool = false,
                       backlog: CInt = 1024) throws(SystemCallError) -> Socket {
        let fd = try syscall("socket", { Glibc.socket(address.family, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0) })
        let socket = Socket(takingOwnershipOf: fd)
        try socket.setOption(SOL_SOCKET, SO_REUSEADDR, 1, name: "SO_REUSEADDR")
        if reusePort { try socket.setOption(SOL_SOCKET, SO_REUSEPORT, 1, name: "SO_REUSEPORT") }
        if address.family == AF_INET6 {
            try socket.setOption(CInt(IPPROTO_IPV6), IPV6_V6ONLY, dualStack ? 0 : 1, name: "IPV6_V6ONLY")
        }
        try syscall("bind \(address)", { address.withSockAddr { Glibc.bind(fd, $0, $1) } })
        try syscall("listen \(address)", { Glibc.listen(fd, backlog) })
        return socket
    }

    /// Fails with EADDRINUSE when something already listens on `address`, even a process that
    /// set SO_REUSEPORT (which would otherwise let our SO_REUSEPORT sockets join it silently).
    package static func checkAvailable(_ address: SocketAddress, dualStack: Bool) throws(SystemCallError) {
        let probe = try listen(on: address, dualStack: dualStack, backlog: 1)
        probe.close()
    }

    /// Accepts one pending connection as a non-blocking socket; nil when none is waiting.
    /// `direct`: call accept4(2) even where the poller accepts (to shed a client when the
    /// descriptor table is full, which ends the poller's accepting).
    package func accept(direct: Bool = false) throws(SystemCallError) -> (Socket, SocketAddress)? {
        var peer = SocketAddress()
        let fd = descriptor
        if !direct, let completedAccept {
            switch try nonBlockingSyscall("accept4", { completedAccept.take() }) {
            case .wouldBlock:
                return nil
            case .done(let newFD):
                let client = Socket(takingOwnershipOf: newFD)
                // A multishot accept has nowhere to put each client's address. A client that
                // is already gone (ENOTCONN) keeps an empty address; its first read says so.
                _ = peer.withMutableSockAddr { getpeername(newFD, $0, $1) }
                return (client, peer)
            }
        }
        let result = try nonBlockingSyscall("accept4", {
            peer.withMutableSockAddr { addr, len in
                accept4(fd, addr, len, CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue))
            }
        })
        switch result {
        case .done(let newFD): return (Socket(takingOwnershipOf: newFD), peer)
        case .wouldBlock: return nil
        }
    }

    /// The address the kernel actually bound (it picks the port when asked for 0).
    package func localAddress() throws(SystemCallError) -> SocketAddress {
        var address = SocketAddress()
        let fd = descriptor
        try syscall("getsockname", { address.withMutableSockAddr { getsockname(fd, $0, $1) } })
        return address
    }

    // MARK: - Client side (tests and tools)

    /// A non-blocking socket with a connect in progress (EINPROGRESS) or done.
    package static func connect(to address: SocketAddress) throws(SystemCallError) -> Socket {
        let fd = try syscall("socket", { Glibc.socket(address.family, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0) })
        let socket = Socket(takingOwnershipOf: fd)
        let rc = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        if rc != 0 && errno != EINPROGRESS {
            throw SystemCallError(call: "connect \(address)", errno: errno)
        }
        return socket
    }

    /// Two connected non-blocking stream sockets (AF_UNIX), for in-process peers.
    package static func makePair() throws(SystemCallError) -> (Socket, Socket) {
        var fds: [CInt] = [-1, -1]
        try syscall("socketpair", {
            socketpair(AF_UNIX, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0, &fds)
        })
        return (Socket(takingOwnershipOf: fds[0]), Socket(takingOwnershipOf: fds[1]))
    }

    // MARK: - Data

    package func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> SyscallResult<Int> {
        let fd = descriptor
        if let completedReceive {
            return try nonBlockingSyscall("read", { completedReceive.read(fd, into: buffer.baseAddress, count: buffer.count) })
        }
        return try nonBlockingSyscall("read", { Glibc.read(fd, buffer.baseAddress, buffer.count) })
    }

    /// recv(2), optionally with MSG_PEEK: a peeked byte stays queued for the next read, so a
    /// reader can look at a header before knowing how much of it is its own.
    package func receive(into buffer: UnsafeMutableRawBufferPointer, peek: Bool) throws(SystemCallError) -> SyscallResult<Int> {
        let fd = descriptor
        if let completedReceive {
            return try nonBlockingSyscall("recv", { completedReceive.read(fd, into: buffer.baseAddress, count: buffer.count, peek: peek) })
        }
        let flags = peek ? CInt(MSG_PEEK) : 0
        return try nonBlockingSyscall("recv", { Glibc.recv(fd, buffer.baseAddress, buffer.count, flags) })
    }

    /// send(2) with MSG_NOSIGNAL: a reset peer is an error for this connection, never a signal for the process.
    package func write(_ bytes: UnsafeRawBufferPointer) throws(SystemCallError) -> SyscallResult<Int> {
        let fd = descriptor
        if let queuedSend {
            return try nonBlockingSyscall("send", { queuedSend.write(bytes.baseAddress, count: bytes.count) })
        }
        return try nonBlockingSyscall("send", { Glibc.send(fd, bytes.baseAddress, bytes.count, CInt(MSG_NOSIGNAL)) })
    }

    /// Sends FIN while leaving the read side open, so echo still in flight is not destroyed by a RST.
    /// With a queued send, only once it is empty (`hasUnsentOutput`), or the FIN would overtake it.
    package func shutdownWrite() throws(SystemCallError) {
        assert(!hasUnsentOutput, "FIN before the queued bytes")
        let fd = descriptor
        try syscall("shutdown", { Glibc.shutdown(fd, CInt(SHUT_WR)) })
    }

    // MARK: - Options

    package func setOption(_ level: CInt, _ option: CInt, _ value: CInt, name: String) throws(SystemCallError) {
        var v = value
        let fd = descriptor
        try syscall("setsockopt \(name)", { setsockopt(fd, level, option, &v, socklen_t(MemoryLayout<CInt>.size)) })
    }

    /// Makes the next close send a RST instead of a FIN (SO_LINGER with a zero timeout), for a
    /// test profile that must look like a crash.
    package func setResetOnClose() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        let fd = descriptor
        _ = try? syscall("setsockopt SO_LINGER", { setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size)) })
    }

    /// Echo is latency-bound request/response traffic: Nagle would hold back every short echo.
    package func setNoDelay() {
        try? setOption(CInt(IPPROTO_TCP), TCP_NODELAY, 1, name: "TCP_NODELAY")
    }
}
