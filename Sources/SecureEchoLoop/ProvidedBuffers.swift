// The buffers the io_uring poller's receives land in: a provided-buffer ring (kernel 5.19+)
// that the kernel picks a free buffer from when bytes arrive, so a socket that is waiting
// costs no buffer at all. The ring is shared by every connection of one loop; its size
// bounds what the loop holds in received bytes, whatever the number of connections.
import SecureEchoSystem
#if os(Linux)
import CLiburing
import Glibc

final class ProvidedBuffers {
    /// The buffer group receives name (IOSQE_BUFFER_SELECT with this `buf_group`).
    let group: UInt16 = 0
    let count: Int
    let size: Int
    /// Page-aligned, as the kernel requires: mmapped, unmapped in deinit.
    private let ring: UnsafeMutablePointer<io_uring_buf_ring>
    private let ringBytes: Int
    private let memory: UnsafeMutableRawPointer
    /// Buffers handed back since the last `publish`.
    @exclusivity(unchecked) private var returned: CInt = 0

    /// Registers `count` (a power of two) buffers of `size` bytes with `uring`. Fails with the
    /// kernel's errno where provided-buffer rings are missing (before 5.19).
    init(registeringWith uring: UnsafeMutablePointer<io_uring>, count: Int, size: Int) throws(SystemCallError) {
        precondition(count > 0 && count & (count - 1) == 0 && count <= 32_768, "buffer count must be a power of two")
        self.count = count
        self.size = size
        ringBytes = count * MemoryLayout<io_uring_buf>.stride
        let mapped = mmap(nil, ringBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let mapped, mapped != MAP_FAILED else { throw SystemCallError(call: "mmap (io_uring buffer ring)", errno: errno) }
        ring = mapped.bindMemory(to: io_uring_buf_ring.self, capacity: 1)
        memory = .allocate(byteCount: count * size, alignment: 4096)
        // The kernel takes buffers in ring order, so within a few hundred receives every page
        // is touched anyway; touching them now puts the loop's fixed cost in its resident size
        // from the start instead of letting it creep up under the first traffic.
        memset(memory, 0, count * size)
        var registration = io_uring_buf_reg()
        registration.ring_addr = UInt64(UInt(bitPattern: mapped))
        registration.ring_entries = UInt32(count)
        registration.bgid = group
        let result = io_uring_register_buf_ring(uring, &registration, 0)
        guard result == 0 else {
            munmap(mapped, ringBytes)
            memory.deallocate()
            throw SystemCallError(call: "io_uring_register_buf_ring", errno: -result)
        }
        io_uring_buf_ring_init(ring)
        for id in 0..<count { giveBack(UInt16(id)) }
        publish()
    }

    /// Freed after the ring that used them is gone (the poller's deinit exits the ring first).
    deinit {
        munmap(UnsafeMutableRawPointer(ring), ringBytes)
        memory.deallocate()
    }

    /// The first `length` bytes of buffer `id`, as a completed receive filled them.
    func bytes(_ id: UInt16, length: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: memory + Int(id) * size, count: min(length, size))
    }

    /// Puts buffer `id` back in the ring; the kernel sees it after the next `publish`.
    func giveBack(_ id: UInt16) {
        io_uring_buf_ring_add(ring, memory + Int(id) * size, UInt32(size), id, io_uring_buf_ring_mask(UInt32(count)), returned)
        returned += 1
    }

    /// Makes the buffers given back visible to the kernel (one release store for all of them).
    func publish() {
        guard returned > 0 else { return }
        io_uring_buf_ring_advance(ring, returned)
        returned = 0
    }
}
#endif
