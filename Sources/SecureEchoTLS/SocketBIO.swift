// OpenSSL's I/O on a non-blocking socket, through our own BIO instead of the stock socket BIO,
// so it can skip the system calls whose answer is already known.
import SecureEchoSystem
import COpenSSL
import CSystem
#if canImport(Glibc)
import Glibc
#endif

/// A `BIO` over a socket it does not own (the `Socket` closes the descriptor).
///
/// It differs from `BIO_new_socket` in one way: after a short read or write it answers "retry"
/// without a system call, as the plain transport does (see `ReadinessMemo`).
package enum SocketBIO {
    private struct State {
        var fd: CInt = -1
        /// What the poller already received for the socket, read before the socket itself.
        var completedReceive: CompletedReceive?
        /// Where writes go instead of send(2), when the poller sends for the socket.
        var queuedSend: QueuedSend?
        var memo = ReadinessMemo()
        /// read(2) returned 0; OpenSSL asks `BIO_eof` to tell a closed peer from an error.
        var atEOF = false
    }

    /// A new BIO reading and writing `fd`; the caller owns the returned reference.
    package static func make(fd: CInt, completedReceive: CompletedReceive? = nil,
                             queuedSend: QueuedSend? = nil) throws(OpenSSLError) -> OpaquePointer {
        ERR_clear_error()
        guard let method = method.pointer, let bio = BIO_new(method) else { throw .drain("BIO_new(socket)") }
        state(bio)?.pointee.fd = fd
        state(bio)?.pointee.completedReceive = completedReceive
        state(bio)?.pointee.queuedSend = queuedSend
        return bio
    }

    private static func state(_ bio: OpaquePointer?) -> UnsafeMutablePointer<State>? {
        BIO_get_data(bio)?.assumingMemoryBound(to: State.self)
    }

    private static let retryFlags = CInt(BIO_FLAGS_READ | BIO_FLAGS_WRITE | BIO_FLAGS_IO_SPECIAL | BIO_FLAGS_SHOULD_RETRY)

    // MARK: - The method table, built once per process

    private struct Method: @unchecked Sendable {
        // Immutable after creation and only read by OpenSSL: safe to share between loops.
        let pointer: OpaquePointer?
    }

    private static let method = Method(pointer: {
        guard let method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "secure-echo socket") else {
            return nil
        }
        BIO_meth_set_create(method, create)
        BIO_meth_set_destroy(method, destroy)
        BIO_meth_set_read_ex(method, read)
        BIO_meth_set_write_ex(method, write)
        BIO_meth_set_ctrl(method, control)
        return method
    }())

    private static let create: @convention(c) (OpaquePointer?) -> CInt = { bio in
        let state = UnsafeMutablePointer<State>.allocate(capacity: 1)
        state.initialize(to: State())
        BIO_set_data(bio, state)
        BIO_set_init(bio, 1)
        return 1
    }

    private static let destroy: @convention(c) (OpaquePointer?) -> CInt = { bio in
        guard let state = SocketBIO.state(bio) else { return 0 }
        state.deinitialize(count: 1)
        state.deallocate()
        BIO_set_data(bio, nil)
        return 1
    }

    private static let read: @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>?, Int, UnsafeMutablePointer<Int>?) -> CInt = { bio, buffer, length, processed in
        guard let state = SocketBIO.state(bio), length > 0 else { return 0 }
        BIO_clear_flags(bio, retryFlags)
        if state.pointee.memo.skipsRead() {
            BIO_set_flags(bio, CInt(BIO_FLAGS_READ | BIO_FLAGS_SHOULD_RETRY))
            return 0
        }
        let count = state.pointee.completedReceive?.read(state.pointee.fd, into: buffer, count: length)
            ?? DescriptorIO.read(state.pointee.fd, into: buffer, count: length)
        if count > 0 {
            processed?.pointee = count
            state.pointee.memo.read(count, of: length)
            return 1
        }
        if count == 0 {
            state.pointee.atEOF = true
        } else if DescriptorIO.isTransient(errno) {
            BIO_set_flags(bio, CInt(BIO_FLAGS_READ | BIO_FLAGS_SHOULD_RETRY))
        }
        return 0
    }

    private static let write: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int, UnsafeMutablePointer<Int>?) -> CInt = { bio, bytes, length, processed in
        guard let state = SocketBIO.state(bio), length > 0 else { return 0 }
        BIO_clear_flags(bio, retryFlags)
        if state.pointee.memo.skipsWrite() {
            BIO_set_flags(bio, CInt(BIO_FLAGS_WRITE | BIO_FLAGS_SHOULD_RETRY))
            return 0
        }
        let count = state.pointee.queuedSend?.write(bytes, count: length)
            ?? DescriptorIO.send(state.pointee.fd, bytes, count: length)
        if count > 0 {
            processed?.pointee = count
            state.pointee.memo.wrote(count, of: length)
            return 1
        }
        if count < 0 && DescriptorIO.isTransient(errno) {
            BIO_set_flags(bio, CInt(BIO_FLAGS_WRITE | BIO_FLAGS_SHOULD_RETRY))
        }
        return 0
    }

    // libssl asks several questions per record (kTLS, pending bytes, ...): answer the ones
    // that do not apply without looking at the state.
    private static let control: @convention(c) (OpaquePointer?, CInt, Int, UnsafeMutableRawPointer?) -> Int = { bio, command, _, argument in
        switch command {
        case BIO_CTRL_FLUSH:
            return 1  // nothing is buffered here
        case BIO_CTRL_EOF:
            return SocketBIO.state(bio)?.pointee.atEOF == true ? 1 : 0
        case BIO_C_GET_FD:
            guard let fd = SocketBIO.state(bio)?.pointee.fd else { return -1 }
            argument?.assumingMemoryBound(to: CInt.self).pointee = fd
            return Int(fd)
        default:
            return 0
        }
    }
}
