// Linux io_uring backend, readiness through one-shot poll requests (IORING_OP_POLL_ADD).
//
// Every registration change is a submission queue entry, and all of a pass's entries go to
// the kernel in the one io_uring_enter that also waits: where epoll makes an epoll_ctl system
// call per change, this makes none. A one-shot poll completes once; the poller arms it again
// before the next wait, so an fd that is still ready completes again at once: level-triggered,
// as the Poller protocol promises, without the loop knowing.
import SecureEchoSystem
#if os(Linux)
import CLiburing
import Glibc

public final class IOUringPoller: Poller {
    public let kind = PollerKind.ioUring

    private struct Slot {
        var token: UInt32
        var interest: Interest
        /// A poll request for this fd is in the kernel and its completion not yet seen.
        var armed: Bool
    }

    /// Owned here (liburing keeps the ring's mmapped queues behind it), freed in deinit.
    private let ring: UnsafeMutablePointer<io_uring>
    private let completions: UnsafeMutablePointer<UnsafeMutablePointer<io_uring_cqe>?>
    private let capacity = 256
    /// Removals post no completion of their own when the kernel can skip it.
    private let removalFlags: UInt8
    // The tables below skip Swift's run-time exclusivity check, as the loop's do: only the
    // loop's thread touches them and no access spans a call that could reach them again.
    /// Indexed by descriptor.
    @exclusivity(unchecked) private var slots: [Slot?] = []
    /// Bumped at each registration and whenever a request for the fd is removed, and carried in the
    /// request's user data: a completion from an earlier request (one that had completed
    /// before its removal reached the kernel, or the removal's ECANCELED) no longer matches.
    @exclusivity(unchecked) private var generations: [UInt8] = []
    /// Descriptors whose one-shot poll completed in the last wait: armed again before the next.
    @exclusivity(unchecked) private var fired: [CInt] = []
    /// User data of removal requests, whose own completions mean nothing to the loop.
    private static let removal = UInt64.max

    /// Fails, with the errno of io_uring_setup, where the kernel has no io_uring or
    /// `kernel.io_uring_disabled` forbids it; the server then falls back to epoll.
    public init(entries: UInt32 = 1024) throws(SystemCallError) {
        ring = .allocate(capacity: 1)
        completions = .allocate(capacity: capacity)
        var params = io_uring_params()
        // Completions are reaped only when the loop enters the kernel anyway: no interrupt
        // of the running loop to post them early.
        params.flags = UInt32(IORING_SETUP_COOP_TASKRUN)
        var result = io_uring_queue_init_params(entries, ring, &params)
        if result == -EINVAL {
            params = io_uring_params()
            result = io_uring_queue_init_params(entries, ring, &params)
        }
        guard result == 0 else {
            ring.deallocate()
            completions.deallocate()
            throw SystemCallError(call: "io_uring_setup", errno: -result)
        }
        removalFlags = params.features & UInt32(IORING_FEAT_CQE_SKIP) != 0 ? UInt8(1 << IOSQE_CQE_SKIP_SUCCESS_BIT) : 0
        fired.reserveCapacity(capacity)
    }

    deinit {
        io_uring_queue_exit(ring)
        ring.deallocate()
        completions.deallocate()
    }

    public func register(fd: CInt, token: UInt32, interest: Interest) throws(SystemCallError) {
        let index = Int(fd)
        guard index >= 0 else { throw SystemCallError(call: "io_uring poll", errno: EBADF) }
        if index >= slots.count {
            let grow = max(index + 1 - slots.count, slots.count)
            slots.append(contentsOf: repeatElement(nil, count: grow))
            generations.append(contentsOf: repeatElement(0, count: grow))
        }
        guard slots[index] == nil else { throw SystemCallError(call: "io_uring poll", errno: EEXIST) }
        generations[index] &+= 1
        slots[index] = Slot(token: token, interest: interest, armed: false)
        try arm(fd)
    }

    public func modify(fd: CInt, token: UInt32, interest: Interest) throws(SystemCallError) {
        let index = Int(fd)
        guard index >= 0, index < slots.count, var slot = slots[index] else {
            throw SystemCallError(call: "io_uring poll", errno: ENOENT)
        }
        // Remove and add rather than update in place: an update of a request that has already
        // completed fails, and the fd would then sleep with nothing armed.
        if slot.armed {
            try remove(fd, data: userData(fd: fd, token: slot.token))
            slot.armed = false
        }
        slot.token = token
        slot.interest = interest
        slots[index] = slot
        try arm(fd)
    }

    public func deregister(fd: CInt) throws(SystemCallError) {
        let index = Int(fd)
        guard index >= 0, index < slots.count, let slot = slots[index] else {
            throw SystemCallError(call: "io_uring poll", errno: ENOENT)
        }
        // The request holds a reference to the socket: the removal, sent with the next wait,
        // is what lets a closed socket go.
        if slot.armed { try remove(fd, data: userData(fd: fd, token: slot.token)) }
        slots[index] = nil
    }

    public func wait(timeoutMilliseconds: CInt, into events: inout [PollEvent]) throws(SystemCallError) {
        events.removeAll(keepingCapacity: true)
        for fd in fired {
            if let slot = slots[Int(fd)], !slot.armed { try arm(fd) }
        }
        fired.removeAll(keepingCapacity: true)

        let result: CInt
        if timeoutMilliseconds < 0 {
            result = io_uring_submit_and_wait(ring, 1)
        } else if timeoutMilliseconds == 0 {
            result = io_uring_submit(ring)
        } else {
            var timeout = __kernel_timespec(tv_sec: Int64(timeoutMilliseconds / 1000),
                                            tv_nsec: Int64(timeoutMilliseconds % 1000) * 1_000_000)
            var first: UnsafeMutablePointer<io_uring_cqe>?
            result = io_uring_submit_and_wait_timeout(ring, &first, 1, &timeout, nil)
        }
        if result < 0, result != -ETIME, result != -EINTR {
            throw SystemCallError(call: "io_uring_enter", errno: -result)
        }

        let count = Int(io_uring_peek_batch_cqe(ring, completions, UInt32(capacity)))
        for i in 0..<count {
            guard let cqe = completions[i] else { continue }
            if let event = event(data: cqe.pointee.user_data, result: cqe.pointee.res) { events.append(event) }
        }
        io_uring_cq_advance(ring, UInt32(count))
    }

    /// The loop's event for one completion, or nil for a stale one or a removal's own.
    private func event(data: UInt64, result: Int32) -> PollEvent? {
        guard data != Self.removal else { return nil }
        let fd = CInt(truncatingIfNeeded: data >> 40)
        let generation = UInt8(truncatingIfNeeded: data >> 32)
        let token = UInt32(truncatingIfNeeded: data)
        let index = Int(fd)
        guard index < slots.count, var slot = slots[index], slot.armed, slot.token == token,
              generations[index] == generation else { return nil }
        slot.armed = false
        slots[index] = slot
        fired.append(fd)
        var ready: Interest = []
        if result < 0 {
            ready = [.readable, .writable]  // the handler's own read or write reports the error
        } else {
            let mask = Int16(truncatingIfNeeded: result)
            if mask & Int16(POLLIN) != 0 { ready.insert(.readable) }
            if mask & Int16(POLLOUT) != 0 { ready.insert(.writable) }
            if mask & Int16(POLLERR | POLLHUP) != 0 { ready = [.readable, .writable] }
        }
        return PollEvent(fd: fd, token: token, ready: ready)
    }

    /// What a request carries back in its completion: fd, the fd's current generation, token.
    private func userData(fd: CInt, token: UInt32) -> UInt64 {
        UInt64(UInt32(bitPattern: fd)) << 40 | UInt64(generations[Int(fd)]) << 32 | UInt64(token)
    }

    /// Queues a poll request for the fd's interest (errors and hang-ups are always reported).
    private func arm(_ fd: CInt) throws(SystemCallError) {
        let index = Int(fd)
        guard var slot = slots[index] else { return }
        var mask: UInt32 = 0
        if slot.interest.contains(.readable) { mask |= UInt32(POLLIN) }
        if slot.interest.contains(.writable) { mask |= UInt32(POLLOUT) }
        let sqe = try submissionEntry()
        io_uring_prep_poll_add(sqe, fd, mask)
        io_uring_sqe_set_data64(sqe, userData(fd: fd, token: slot.token))
        slot.armed = true
        slots[index] = slot
    }

    /// Queues the removal of the fd's armed request (`data`, its user data) and retires its generation.
    private func remove(_ fd: CInt, data: UInt64) throws(SystemCallError) {
        let sqe = try submissionEntry()
        io_uring_prep_poll_remove(sqe, data)
        io_uring_sqe_set_data64(sqe, Self.removal)
        sqe.pointee.flags |= removalFlags
        generations[Int(fd)] &+= 1
    }

    /// A free submission entry; a full queue is handed to the kernel first (rare: 1024 changes
    /// in one pass).
    private func submissionEntry() throws(SystemCallError) -> UnsafeMutablePointer<io_uring_sqe> {
        if let sqe = io_uring_get_sqe(ring) { return sqe }
        let submitted = io_uring_submit(ring)
        if submitted < 0 { throw SystemCallError(call: "io_uring_enter", errno: -submitted) }
        guard let sqe = io_uring_get_sqe(ring) else { throw SystemCallError(call: "io_uring_get_sqe", errno: EBUSY) }
        return sqe
    }
}
#endif
