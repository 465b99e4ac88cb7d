// Completion-based receive (io_uring): the kernel has already copied a socket's bytes into a
// buffer the poller lent it, and the socket's readers take them from there before they ask
// the kernel again. Plain reads, the TLS socket BIO and the preamble's peeks all come here,
// so the bytes of one stream are read in one order whichever way they arrived.
#if canImport(Glibc)
import Glibc
#endif

/// One socket's side of completion-based receive, shared by the poller (which fills it) and
/// the socket's readers (which drain it). Only the loop's thread touches it.
///
/// The rule that keeps bytes in order: a read system call happens only while no receive of
/// the poller's is in the kernel for this socket (`mayRead`), and lent bytes always go first.
public final class CompletedReceive {
    // Unchecked exclusivity: asked on every read, by one thread, never held across a call.
    // Private, with `mayRead` computed for the poller: another module that reads a stored
    // property directly makes its own run-time exclusivity check (76 instructions).
    /// Bytes the kernel received into the poller's buffer `bufferID`, `offset` of them read.
    @exclusivity(unchecked) private var base: UnsafeRawPointer?
    @exclusivity(unchecked) private var count = 0
    @exclusivity(unchecked) private var offset = 0
    @exclusivity(unchecked) private var bufferID: UInt16 = 0
    @exclusivity(unchecked) private var readerTurn = false
    /// The kernel reported end of stream.
    @exclusivity(unchecked) private var ended = false
    /// The kernel's receive failed with this errno (ECONNRESET…); every later read reports it.
    @exclusivity(unchecked) private var failure: CInt = 0

    /// No receive of the poller's is pending and bytes may be waiting in the socket: readers
    /// call read(2) themselves (after a receive that left more behind, or found no free buffer).
    /// Cleared once a read comes back short, which hands the socket back to the poller.
    package var mayRead: Bool { readerTurn }

    package init() {}

    /// Something is here for a reader without asking the kernel.
    package var hasNews: Bool { offset < count || ended || failure != 0 }

    /// A buffer of the poller's is lent here (read or not).
    package var holdsBuffer: Bool { base != nil }

    // MARK: - The poller's side

    /// A receive completed into the poller's buffer. `more`: the socket still holds bytes
    /// (the kernel said so, or the buffer came back full).
    package func received(_ bytes: UnsafeRawBufferPointer, bufferID: UInt16, more: Bool) {
        base = UnsafeRawPointer(bytes.baseAddress)
        count = base == nil ? 0 : bytes.count
        offset = 0
        self.bufferID = bufferID
        readerTurn = more
    }

    /// Readers read the socket themselves until it is empty: a receive found the poller's
    /// buffers all lent, or the socket was polled for input and has some.
    package func readersHaveTheTurn() { readerTurn = true }

    package func receivedEnd() { ended = true }

    package func receiveFailed(_ errno: CInt) { if failure == 0 { failure = errno } }

    /// The lent buffer once every byte of it has been read (or the socket is going away), for
    /// the poller to take back; nil while bytes remain.
    package func reclaim(force: Bool = false) -> UInt16? {
        guard base != nil, force || offset == count else { return nil }
        base = nil
        count = 0
        offset = 0
        return bufferID
    }

    // MARK: - The readers' side

    /// read(2) or recv(2) (with MSG_PEEK when `peek`) in C's terms: a count, 0 at end of stream,
    /// or -1 with errno set (EAGAIN when nothing is here and the poller has the socket).
    /// Lent bytes come first; when they run out and the socket may hold more, the rest of
    /// `buffer` is filled by the system call in the same call, so a short count still means
    /// the socket is empty.
    package func read(_ fd: CInt, into buffer: UnsafeMutableRawPointer?, count: Int, peek: Bool = false) -> Int {
        guard let buffer, count > 0 else { return 0 }
        var copied = 0
        if let base, offset < self.count {
            copied = min(count, self.count - offset)
            buffer.copyMemory(from: base + offset, byteCount: copied)
            if !peek { offset += copied }
            // A peek must not take bytes past the lent ones: they would be read twice.
            if copied == count || peek { return copied }
        }
        if failure != 0 {
            if copied > 0 { return copied }
            errno = failure
            return -1
        }
        if ended || !readerTurn {
            if copied > 0 || ended { return copied }
            errno = EAGAIN
            return -1
        }
        let result = peek ? Glibc.recv(fd, buffer + copied, count - copied, CInt(MSG_PEEK))
                          : Glibc.read(fd, buffer + copied, count - copied)
        if result < 0 {
            let error = errno
            if error == EAGAIN || error == EWOULDBLOCK {
                readerTurn = false
            } else if error != EINTR {
                failure = error  // reported once by the kernel, kept here for every later read
            }
            if copied > 0 { return copied }
            errno = error
            return -1
        }
        if result == 0 {
            ended = true
        } else if !peek, result < count - copied {
            readerTurn = false
        }
        return copied + result
    }
}
