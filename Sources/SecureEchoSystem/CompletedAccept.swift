// Completion-based accept (io_uring): one multishot accept request in the kernel accepts every
// client as it arrives, and the listening socket's accept() takes the descriptors from here
// instead of calling accept4(2) once per client and once more for its EAGAIN.
#if canImport(Glibc)
import Glibc
#endif

/// One listening socket's accepted descriptors, filled by the poller and taken by the
/// listener. Only the loop's thread touches it. Descriptors never taken are closed with it.
public final class CompletedAccept {
    /// The poller stops accepting (cancels its request) while this many wait to be taken, so
    /// a loop that falls behind holds a bounded number of descriptors here; the kernel's
    /// backlog holds the rest, as it does without io_uring.
    package static let limit = 256

    // Unchecked exclusivity: one thread, never across a call. Private behind computed
    // properties, as another module's read of a stored property is a run-time check.
    @exclusivity(unchecked) private var accepted: [CInt] = []
    @exclusivity(unchecked) private var head = 0
    @exclusivity(unchecked) private var error: CInt = 0

    package init() { accepted.reserveCapacity(Self.limit) }

    deinit { for fd in accepted[head...] { Glibc.close(fd) } }

    /// Descriptors (or an error) are here for the listener.
    package var hasNews: Bool { head < accepted.count || error != 0 }

    /// Room for the poller to go on accepting.
    package var hasRoom: Bool { accepted.count - head < Self.limit }

    // MARK: - The poller's side

    package func accepted(_ fd: CInt) { accepted.append(fd) }

    /// The kernel's accept failed (EMFILE, ENFILE…): reported to the listener once.
    package func failed(_ errno: CInt) { error = errno }

    // MARK: - The listener's side

    /// accept4(2) in C's terms: a descriptor, or -1 with errno set (EAGAIN when none is here).
    /// An error goes first, since accepts after it were made once it had passed.
    package func take() -> CInt {
        if error != 0 {
            errno = error
            error = 0
            return -1
        }
        guard head < accepted.count else {
            errno = EAGAIN
            return -1
        }
        let fd = accepted[head]
        head += 1
        if head == accepted.count {
            accepted.removeAll(keepingCapacity: true)
            head = 0
        }
        return fd
    }
}
