// read(2) and send(2) on a descriptor the caller does not own, answered in C's terms (a count,
// or -1 with errno set), for callbacks that must speak C: OpenSSL's socket BIO.
#if canImport(Glibc)
import Glibc
#endif

package enum DescriptorIO {
    @inlinable
    package static func read(_ fd: CInt, into buffer: UnsafeMutableRawPointer?, count: Int) -> Int {
        Glibc.read(fd, buffer, count)
    }

    /// With MSG_NOSIGNAL: a reset peer is this connection's error, never a signal for the process.
    @inlinable
    package static func send(_ fd: CInt, _ bytes: UnsafeRawPointer?, count: Int) -> Int {
        Glibc.send(fd, bytes, count, CInt(MSG_NOSIGNAL))
    }

    /// EAGAIN, EWOULDBLOCK or EINTR: try again later rather than fail.
    @inlinable
    package static func isTransient(_ error: CInt) -> Bool {
        error == EAGAIN || error == EWOULDBLOCK || error == EINTR
    }
}
