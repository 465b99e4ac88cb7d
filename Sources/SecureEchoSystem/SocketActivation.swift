// systemd socket activation (sd_listen_fds(3)'s protocol, without libsystemd): listening
// sockets handed over from descriptor 3 on, named by LISTEN_FDNAMES.
#if canImport(Glibc)
import CSystem
import Glibc
#endif

package enum SocketActivation {
    /// The first descriptor systemd passes.
    static let firstDescriptor: CInt = 3

    /// The listening sockets passed to this process, by name; nil when none were (no
    /// LISTEN_PID naming this process). Checks that each is a listening stream socket, makes
    /// it non-blocking and close-on-exec, and unsets the variables so that a child the server
    /// might start does not think the sockets are its own.
    package static func takeInherited() throws(SocketActivationError) -> [(name: String, socket: Socket)]? {
        guard let pid = environment("LISTEN_PID"), Int32(pid) == getpid() else { return nil }
        guard let countText = environment("LISTEN_FDS"), let count = Int32(countText), count > 0, count < 1024 else {
            throw SocketActivationError("LISTEN_FDS=\(environment("LISTEN_FDS") ?? "") is not a count of descriptors")
        }
        let names = environment("LISTEN_FDNAMES").map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) } ?? []
        guard names.count == Int(count) else {
            throw SocketActivationError("LISTEN_FDNAMES names \(names.count) sockets for LISTEN_FDS=\(count): name each one (tls, plain, metrics), e.g. FileDescriptorName= in the .socket unit")
        }
        for variable in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] { unsetenv(variable) }
        var sockets: [(name: String, socket: Socket)] = []
        for (offset, name) in names.enumerated() {
            let fd = firstDescriptor + CInt(offset)
            let socket = Socket(takingOwnershipOf: fd)
            guard option(fd, SO_TYPE) == CInt(SOCK_STREAM.rawValue), option(fd, SO_ACCEPTCONN) == 1 else {
                throw SocketActivationError("descriptor \(fd) (\(name)) is not a listening stream socket")
            }
            let flags = fcntl(fd, F_GETFL)
            guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0, fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 else {
                throw SocketActivationError("descriptor \(fd) (\(name)): fcntl: \(String(cString: strerror(errno)))")
            }
            sockets.append((name, socket))
        }
        return sockets
    }

    private static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    private static func option(_ fd: CInt, _ name: CInt) -> CInt? {
        var value: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        return getsockopt(fd, SOL_SOCKET, name, &value, &length) == 0 ? value : nil
    }
}

/// Sockets passed by systemd that cannot be used, naming the descriptor or variable at fault.
public struct SocketActivationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    package init(_ description: String) { self.description = description }
}

extension Socket {
    /// Another descriptor for the same listening socket (each event loop polls its own).
    package func duplicate() throws(SystemCallError) -> Socket {
        let fd = descriptor
        return Socket(takingOwnershipOf: try syscall("fcntl F_DUPFD_CLOEXEC", { fcntl(fd, F_DUPFD_CLOEXEC, 0) }))
    }
}
