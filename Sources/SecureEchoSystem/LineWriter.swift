// Log lines leave the event loops through a bounded queue drained by one writer thread, so a
// stderr nobody reads (a stalled pipe, a slow terminal) costs lines, never echo.
#if canImport(Glibc)
import Glibc
#endif

/// A bounded queue of lines and the thread that writes them to a descriptor.
///
/// `write` never blocks on the descriptor: it copies the line into the queue, or drops it
/// and counts it when the queue is full. The writer thread does the blocking writes; once it
/// can write again after drops, it says how many lines were lost.
package final class LineWriter: @unchecked Sendable {
    private let descriptor: CInt
    private let capacity: Int
    private let gathering: Int
    // pthread primitives need stable addresses: allocated once, destroyed in deinit.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let wake: UnsafeMutablePointer<pthread_cond_t>
    private let drained: UnsafeMutablePointer<pthread_cond_t>
    // Guarded by `mutex`.
    private var pending: [UInt8] = []
    private var writing = false
    private var dropped = 0
    private var reportedDrops = 0
    private var thread: LoopThread?

    /// Lines dropped so far because the queue was full.
    package var droppedLines: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return dropped
    }

    /// Starts the writer thread. `capacity` bounds the bytes queued and not yet written.
    /// `gathering`: nanoseconds the writer waits after a first line for more to join it.
    package init(descriptor: CInt, capacity: Int = 256 * 1024, gathering: Int = 5_000_000) throws(SystemCallError) {
        self.descriptor = descriptor
        self.capacity = capacity
        self.gathering = gathering
        mutex = .allocate(capacity: 1)
        wake = .allocate(capacity: 1)
        drained = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(drained, nil)
        pending.reserveCapacity(capacity)
        // The thread holds the writer for the life of the process: log handlers may be used
        // until exit, and swift-log's bootstrap cannot be undone.
        let writer = UnsafeTransfer(value: self)
        thread = try LoopThread { writer.value.run() }
    }

    deinit {
        pthread_cond_destroy(drained)
        pthread_cond_destroy(wake)
        pthread_mutex_destroy(mutex)
        drained.deallocate()
        wake.deallocate()
        mutex.deallocate()
    }

    /// Queues `line` and a newline, or drops the line when the queue is full.
    package func write(_ line: String) {
        var line = line
        line.withUTF8 { write(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Queues the UTF-8 `bytes` of one line and a newline, or drops the line when the queue is full.
    package func write(bytes: UnsafeRawBufferPointer) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard pending.count + bytes.count + 1 <= capacity else {
            dropped += 1
            return
        }
        pending.append(contentsOf: bytes)
        pending.append(UInt8(ascii: "\n"))
        pthread_cond_signal(wake)
    }

    /// Waits until every queued line is written, or `timeout` seconds pass (a stalled stderr
    /// must not hold up exit). Returns whether everything was written.
    @discardableResult
    package func flush(timeout: Double) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        let nanoseconds = Int(deadline.tv_nsec) + Int(timeout.truncatingRemainder(dividingBy: 1) * 1e9)
        deadline.tv_sec += Int(timeout) + nanoseconds / 1_000_000_000
        deadline.tv_nsec = nanoseconds % 1_000_000_000
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while !pending.isEmpty || writing {
            if pthread_cond_timedwait(drained, mutex, &deadline) == ETIMEDOUT { return false }
        }
        return true
    }

    private func run() {
        var batch: [UInt8] = []
        batch.reserveCapacity(capacity)
        while true {
            pthread_mutex_lock(mutex)
            while pending.isEmpty {
                writing = false
                pthread_cond_broadcast(drained)
                pthread_cond_wait(wake, mutex)
            }
            writing = true
            // Lines come in bursts (two per connection, a wave of handshakes). Waking for each
            // cost a context switch and a write(2) per line, about a tenth of a TLS handshake's
            // CPU; gathering for a few milliseconds lets one wake-up and one write carry the
            // burst. A line is late by at most `gathering`, and an idle writer still sleeps.
            if gathering > 0 {
                pthread_mutex_unlock(mutex)
                var pause = timespec(tv_sec: 0, tv_nsec: gathering), left = timespec()
                while nanosleep(&pause, &left) == -1 && errno == EINTR { pause = left }
                pthread_mutex_lock(mutex)
            }
            swap(&pending, &batch)
            let lost = dropped - reportedDrops
            reportedDrops = dropped
            pthread_mutex_unlock(mutex)

            writeAll(batch)
            batch.removeAll(keepingCapacity: true)
            if lost > 0 {
                writeAll(Array("warning \(lost) log lines dropped: stderr was not keeping up\n".utf8))
            }
        }
    }

    /// Blocking write of all of `bytes`; gives up on the batch only if the descriptor fails.
    private func writeAll(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let rc = Glibc.write(descriptor, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                if rc > 0 {
                    offset += rc
                } else if rc < 0 && errno == EINTR {
                    continue
                } else if rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                    // A non-blocking stderr: wait until it takes more.
                    var entry = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&entry, 1, -1)
                } else {
                    return  // stderr closed or broken: nothing more can be said there
                }
            }
        }
    }
}
