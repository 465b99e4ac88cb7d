// One connection's output not yet written: echo waiting for the socket, and the input an
// application holds back (an unfinished line) until it may go back.
import SecureEchoLoop
import SecureEchoSystem
import SecureEchoTLS
#if canImport(Glibc)
import Glibc
#endif

/// A contiguous byte queue: `[sendable | held]`. Sendable bytes are echo waiting for the socket;
/// held bytes are an unfinished line. Storage exists only while the queue is non-empty, so an
/// idle connection costs no buffer; it moves (compaction, growth) only between writes, which
/// TLS permits because contexts enable SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER.
struct OutputBuffer: ~Copyable {
    private var storage: UnsafeMutableRawPointer?
    private var capacity = 0
    private var head = 0
    private var tail = 0
    /// Bytes from the head that may be sent; the rest are held.
    private(set) var sendableCount = 0

    static let minimumCapacity = 4096

    init() {}

    deinit { free(storage) }

    var count: Int { tail - head }
    var isEmpty: Bool { head == tail }
    var heldCount: Int { count - sendableCount }
    /// Bytes of storage this buffer owns right now.
    var allocatedBytes: Int { capacity }

    /// The bytes to hand to the next write. Empty when nothing is sendable.
    var sendable: UnsafeRawBufferPointer {
        guard let storage else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: storage + head, count: sendableCount)
    }

    /// Appends `bytes` as held (not yet sendable).
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        reserve(bytes.count)
        guard let storage else { return }
        (storage + tail).copyMemory(from: source, byteCount: bytes.count)
        tail += bytes.count
    }

    /// Marks `n` more held bytes as sendable.
    mutating func release(_ n: Int) {
        precondition(n >= 0 && sendableCount + n <= count, "release beyond the buffer")
        sendableCount += n
    }

    /// Forgets the held bytes (input an application consumed instead of echoing).
    mutating func dropHeld() {
        tail = head + sendableCount
        if head == tail { reset() }
    }

    /// `n` sendable bytes were written.
    mutating func consume(_ n: Int) {
        precondition(n >= 0 && n <= sendableCount, "consumed more than was sendable")
        head += n
        sendableCount -= n
        if head == tail { reset() }
    }

    /// Copies the held bytes (nothing may be sendable) to the start of `destination`, then
    /// empties the buffer. Returns how many bytes moved.
    mutating func moveHeld(to destination: UnsafeMutableRawBufferPointer) -> Int {
        precondition(sendableCount == 0 && count <= destination.count, "moveHeld with sendable bytes or too little room")
        let moved = count
        if let storage, moved > 0, let target = destination.baseAddress {
            target.copyMemory(from: storage + head, byteCount: moved)
        }
        reset()
        return moved
    }

    /// Drops everything and gives the storage back.
    mutating func reset() {
        free(storage)
        storage = nil
        capacity = 0
        head = 0
        tail = 0
        sendableCount = 0
    }

    private mutating func reserve(_ extra: Int) {
        if capacity - tail >= extra { return }
        let needed = count + extra
        if let storage, head > 0 {
            // Slide the live bytes to the front before deciding whether to grow.
            memmove(storage, storage + head, count)
            tail -= head
            head = 0
            if capacity >= needed { return }
        }
        var newCapacity = max(capacity * 2, Self.minimumCapacity)
        while newCapacity < needed { newCapacity *= 2 }
        guard let grown = realloc(storage, newCapacity) else {
            fatalError("out of memory growing an output buffer to \(newCapacity) bytes")
        }
        storage = grown
        capacity = newCapacity
    }
}
