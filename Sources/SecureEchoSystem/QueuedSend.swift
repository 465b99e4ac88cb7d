// Completion-based send (io_uring): a write copies its bytes here and returns at once, and the
// poller hands them to the kernel with the next wait, in one send per socket per pass. Plain
// writes and the TLS socket BIO both write here, so a stream's bytes leave in the order written.
#if canImport(Glibc)
import Glibc
#endif

/// One socket's bytes written but not yet sent, shared by the socket's writers (which fill it)
/// and the poller (which sends it). Only the loop's thread touches it.
///
/// Memory: one buffer of `capacity` bytes while anything is unsent, none otherwise, so an idle
/// connection holds nothing here. A full buffer answers EAGAIN, like a full socket buffer.
public final class QueuedSend {
    package static let capacity = 64 * 1024

    // Unchecked exclusivity: asked on every write, by one thread, never held across a call.
    @exclusivity(unchecked) private var buffer: UnsafeMutableRawPointer?
    /// Bytes written into `buffer`.
    @exclusivity(unchecked) private var filled = 0
    /// Bytes the kernel has confirmed sent.
    @exclusivity(unchecked) private var sent = 0
    /// Bytes up to which a send is in the kernel (from `sent`); equal to `sent` when none is.
    @exclusivity(unchecked) private var submitted = 0
    @exclusivity(unchecked) private var error: CInt = 0
    /// A send failed with this errno (EPIPE, ECONNRESET…); every later write reports it.
    /// Computed: another module's read of a stored property is a run-time exclusivity check.
    package var failure: CInt { error }
    /// Set by the poller at registration: where this socket is listed when bytes are queued
    /// with no send pending, so the poller sends them with its next wait whatever made the
    /// connection write (an event, a timer, another connection).
    @exclusivity(unchecked) package var fd: CInt = -1
    @exclusivity(unchecked) package var newlyQueued: QueuedSendList?

    package init() {}

    /// The buffer may only go once the kernel has let go of it.
    deinit {
        precondition(submitted == sent, "a queued send was freed while the kernel was sending it")
        buffer?.deallocate()
    }

    /// Nothing is waiting to be sent or being sent.
    package var isEmpty: Bool { filled == sent }

    /// A send of this socket is in the kernel.
    package var isSending: Bool { submitted > sent }

    // MARK: - The writers' side

    /// send(2) in C's terms: the count taken (all of `count` unless the buffer fills), or -1 with
    /// errno set: EAGAIN when full (the poller reports the socket writable once it is sent),
    /// or the error a send already met.
    package func write(_ bytes: UnsafeRawPointer?, count: Int) -> Int {
        guard let bytes, count > 0 else { return 0 }
        if error != 0 {
            errno = error
            return -1
        }
        let room = Self.capacity - filled
        guard room > 0 else {
            errno = EAGAIN
            return -1
        }
        let buffer = self.buffer ?? {
            let fresh = newlyQueued?.spares.popLast() ?? UnsafeMutableRawPointer.allocate(byteCount: Self.capacity, alignment: 16)
            self.buffer = fresh
            return fresh
        }()
        if filled == sent { newlyQueued?.fds.append(fd) }
        let taken = min(room, count)
        (buffer + filled).copyMemory(from: bytes, byteCount: taken)
        filled += taken
        return taken
    }

    // MARK: - The poller's side

    /// The bytes to send now, when there are some and no send is in the kernel; marks them submitted.
    package func nextSend() -> UnsafeRawBufferPointer? {
        guard let buffer, !isSending, filled > sent else { return nil }
        submitted = filled
        return UnsafeRawBufferPointer(start: buffer + sent, count: filled - sent)
    }

    /// The send in the kernel completed with `result` (a count or -errno). A short send leaves
    /// the rest for the next `nextSend`; once everything is sent the buffer is freed.
    package func completed(_ result: Int32) {
        if result > 0 {
            sent += Int(result)
        } else if result < 0 && -result != ECANCELED && -result != EINTR && -result != EAGAIN {
            error = -result
        }
        submitted = sent
        if sent == filled || error != 0 { release() }
    }

    /// Drops what is unsent and frees the buffer (the socket is closing, or a send failed).
    /// Only once no send is in the kernel.
    package func release() {
        precondition(!isSending, "a queued send was released while the kernel was sending it")
        if let buffer {
            if let list = newlyQueued, list.spares.count < QueuedSendList.spareLimit {
                list.spares.append(buffer)
            } else {
                buffer.deallocate()
            }
        }
        buffer = nil
        filled = 0
        sent = 0
        submitted = 0
    }
}

/// What the queued sends of one poller share: the sockets whose queues gained bytes since its
/// last wait, and the buffers of queues that emptied, for the next queue that fills (an echo
/// empties its queue within a pass or two, and a 64 KiB malloc and free per echo showed up
/// as 300 instructions of ~5 000 under callgrind).
public final class QueuedSendList {
    /// Spare buffers kept at most: enough for every connection echoing in one pass of a busy
    /// loop, bounded so a burst of many connections gives its memory back to malloc.
    package static let spareLimit = 64
    // Unchecked exclusivity: touched on a queue's first write and last send, and by the
    // wait, one thread, never across a call.
    @exclusivity(unchecked) var fds: [CInt] = []
    @exclusivity(unchecked) var spares: [UnsafeMutableRawPointer] = []

    package init() {
        fds.reserveCapacity(256)
        spares.reserveCapacity(Self.spareLimit)
    }

    deinit { for buffer in spares { buffer.deallocate() } }

    /// Hands each socket listed since the last call to `body`, then forgets them.
    package func drain(_ body: (CInt) -> Void) {
        for fd in fds { body(fd) }
        fds.removeAll(keepingCapacity: true)
    }
}
