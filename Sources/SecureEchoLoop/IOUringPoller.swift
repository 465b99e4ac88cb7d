// Linux io_uring backend. For sockets registered with a `CompletedReceive` and a `QueuedSend`
// it does the I/O itself: a one-shot IORING_OP_RECV picks a buffer from the loop's
// provided-buffer ring when bytes arrive, and the connection is reported readable with its
// bytes already in user space; what the connection wrote during the pass leaves in one
// IORING_OP_SEND, and it is reported writable once that is sent. An echo then costs no read
// and no send system call: one io_uring_enter per pass serves every connection. A listener
// registered with a `CompletedAccept` has one multishot IORING_OP_ACCEPT that accepts each
// client as it arrives. Everything else (eventfds, and a socket whose readers have the turn)
// waits through one-shot IORING_OP_POLL_ADD requests.
//
// Every request is a submission queue entry, and all of a pass's entries go to the kernel in
// the one io_uring_enter that also waits: where epoll makes an epoll_ctl system call per
// change, this makes none. Requests are one-shot; before each wait the poller looks again at
// every descriptor that fired or changed and arms what it needs, so an fd that is still ready
// completes again at once: level-triggered, as the Poller protocol promises.
import SecureEchoSystem
#if os(Linux)
import CLiburing
import Glibc

public final class IOUringPoller: Poller {
    public let kind = PollerKind.ioUring

    /// Copied in and out of `slots` many times per echo, so it holds no counted reference:
    /// `owners` keeps its receive and send alive for as long as the slot exists. (Opaque
    /// pointers rather than `unowned(unsafe)` optionals: an `Optional<Slot>` holding those
    /// lost elements in `append(contentsOf: repeatElement(nil, …))` in debug builds.)
    private struct Slot {
        var token: UInt32
        var interest: Interest
        private let receiveObject: UnsafeMutableRawPointer?
        private let sendObject: UnsafeMutableRawPointer?
        private let acceptObject: UnsafeMutableRawPointer?
        /// A poll request for this fd is in the kernel (with `pollMask`), its completion unseen.
        var polling = false
        var pollMask: UInt32 = 0
        /// A receive is in the kernel, its completion unseen (a cancelled one too).
        var receiving = false
        var cancelling = false
        /// A send is in the kernel, its completion unseen.
        var sending = false
        /// A multishot accept is in the kernel (and still accepting, or its cancellation unseen).
        var accepting = false
        var acceptCancelling = false
        /// Listed in `dirty`: looked at again before the next wait.
        var dirty = false

        init(token: UInt32, interest: Interest, receive: CompletedReceive? = nil, send: QueuedSend? = nil,
             accepts: CompletedAccept? = nil) {
            self.token = token
            self.interest = interest
            receiveObject = receive.map { Unmanaged.passUnretained($0).toOpaque() }
            sendObject = send.map { Unmanaged.passUnretained($0).toOpaque() }
            acceptObject = accepts.map { Unmanaged.passUnretained($0).toOpaque() }
        }

        /// Where received bytes go; nil for descriptors waited on by poll requests only.
        var receive: CompletedReceive? { receiveObject.map { Unmanaged<CompletedReceive>.fromOpaque($0).takeUnretainedValue() } }
        /// Where written bytes wait to be sent; nil with `receive`.
        var send: QueuedSend? { sendObject.map { Unmanaged<QueuedSend>.fromOpaque($0).takeUnretainedValue() } }
        /// Where accepted descriptors go, for a listener the poller accepts for.
        var accepts: CompletedAccept? { acceptObject.map { Unmanaged<CompletedAccept>.fromOpaque($0).takeUnretainedValue() } }
    }

    /// Owned here (liburing keeps the ring's mmapped queues behind it), freed in deinit.
    private let ring: UnsafeMutablePointer<io_uring>
    private let completions: UnsafeMutablePointer<UnsafeMutablePointer<io_uring_cqe>?>
    private let capacity = 256
    /// Removals post no completion of their own when the kernel can skip it.
    private let removalFlags: UInt8
    /// Nil where the kernel has no provided-buffer rings: every socket is then waited on by poll.
    private let buffers: ProvidedBuffers?
    // The tables below skip Swift's run-time exclusivity check, as the loop's do: only the
    // loop's thread touches them and no access spans a call that could reach them again.
    /// Indexed by descriptor. A buffer of our own rather than an Array: a slot is changed in
    /// place several times per echo, and Array's modify accessor with its uniqueness check
    /// cost ~280 instructions per echo (callgrind). Slot holds no reference, so growing is a copy.
    @exclusivity(unchecked) private var slots: UnsafeMutablePointer<Slot?>
    @exclusivity(unchecked) private var slotCount = IOUringPoller.initialSlots
    private static let initialSlots = 64
    /// The strong references behind each slot's receive, send or accepts, set and cleared with the slot.
    private var owners: [Owned?] = []
    private struct Owned {
        var receive: CompletedReceive?
        var send: QueuedSend?
        var accepts: CompletedAccept?
    }
    /// Bumped at each registration and whenever a poll request for the fd is removed, and
    /// carried in the request's user data: a completion from an earlier request (one that had
    /// completed before its removal reached the kernel, or the removal's ECANCELED) no longer matches.
    @exclusivity(unchecked) private var generations: [UInt8] = []
    /// Descriptors to look at before the next wait: a request completed, the interest changed,
    /// or a lent buffer is still to be read.
    @exclusivity(unchecked) private var dirty: [CInt] = []
    @exclusivity(unchecked) private var dirtySpare: [CInt] = []
    /// Sockets with received bytes (or their end) waiting for a reader that wants them, or with
    /// everything sent for a writer that wants to write: reported by the next wait without the
    /// kernel, which then does not block.
    @exclusivity(unchecked) private var waiting: [(fd: CInt, ready: Interest)] = []
    /// Queued sends of deregistered sockets whose send is still in the kernel: kept (with their
    /// buffer) until its completion, by the send's user data.
    @exclusivity(unchecked) private(set) var orphans: [UInt64: QueuedSend] = [:]
    /// Filled by the sockets' queued sends as they gain bytes.
    private let newlyQueued = QueuedSendList()
    /// User data of removals and cancellations, whose own completions mean nothing to the loop.
    private static let removal = UInt64.max
    /// Mark a receive's and a send's user data; an accept's has both set, a poll's both clear.
    private static let receiveBit: UInt64 = 1 << 63
    private static let sendBit: UInt64 = 1 << 62
    private static let acceptBits: UInt64 = receiveBit | sendBit

    /// Receive buffers per loop and their size: 128 × 16 KiB = 2 MiB, whatever the number of
    /// connections (a TLS record's ciphertext fits in one).
    public static let receiveBufferCount = 128
    public static let receiveBufferSize = 16 * 1024 + 512

    /// Fails, with the errno of io_uring_setup, where the kernel has no io_uring or
    /// `kernel.io_uring_disabled` forbids it; the server then falls back to epoll.
    /// `receiving: false` keeps to poll requests (readiness only), for comparison.
    public init(entries: UInt32 = 1024, receiving: Bool = true) throws(SystemCallError) {
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
        buffers = receiving ? try? ProvidedBuffers(registeringWith: ring, count: Self.receiveBufferCount,
                                                   size: Self.receiveBufferSize) : nil
        slots = .allocate(capacity: slotCount)
        slots.initialize(repeating: nil, count: slotCount)
        owners = Array(repeating: nil, count: slotCount)
        generations = Array(repeating: 0, count: slotCount)
        dirty.reserveCapacity(capacity)
        dirtySpare.reserveCapacity(capacity)
    }

    deinit {
        // The ring goes first: the kernel lets go of the buffer ring before its memory is freed.
        io_uring_queue_exit(ring)
        ring.deallocate()
        completions.deallocate()
        slots.deinitialize(count: slotCount)
        slots.deallocate()
    }

    public var doesSocketIO: Bool { buffers != nil }

    public func register(fd: CInt, token: UInt32, interest: Interest, receive: CompletedReceive?,
                         send: QueuedSend?) throws(SystemCallError) {
        if buffers != nil, let receive, let send {
            try claim(fd, Slot(token: token, interest: interest, receive: receive, send: send),
                      Owned(receive: receive, send: send))
            send.fd = fd
            send.newlyQueued = newlyQueued
        } else {
            try claim(fd, Slot(token: token, interest: interest), nil)
        }
    }

    public func register(listener fd: CInt, token: UInt32, interest: Interest, accepts: CompletedAccept) throws(SystemCallError) {
        guard buffers != nil else { return try register(fd: fd, token: token, interest: interest, receive: nil, send: nil) }
        try claim(fd, Slot(token: token, interest: interest, accepts: accepts), Owned(accepts: accepts))
    }

    private func claim(_ fd: CInt, _ slot: Slot, _ owned: Owned?) throws(SystemCallError) {
        let index = Int(fd)
        guard index >= 0 else { throw SystemCallError(call: "io_uring poll", errno: EBADF) }
        if index >= slotCount {
            let grow = max(index + 1 - slotCount, slotCount)
            let larger = UnsafeMutablePointer<Slot?>.allocate(capacity: slotCount + grow)
            larger.moveInitialize(from: slots, count: slotCount)
            (larger + slotCount).initialize(repeating: nil, count: grow)
            slots.deallocate()
            slots = larger
            slotCount += grow
            owners.append(contentsOf: repeatElement(nil, count: grow))
            generations.append(contentsOf: repeatElement(0, count: grow))
        }
        guard slots[index] == nil else { throw SystemCallError(call: "io_uring poll", errno: EEXIST) }
        generations[index] &+= 1
        slots[index] = slot
        owners[index] = owned
        markDirty(fd)
    }

    public func modify(fd: CInt, token: UInt32, interest: Interest) throws(SystemCallError) {
        let index = Int(fd)
        guard index >= 0, index < slotCount, slots[index] != nil else {
            throw SystemCallError(call: "io_uring poll", errno: ENOENT)
        }
        slots[index]?.token = token
        slots[index]?.interest = interest
        markDirty(fd)
    }

    public func deregister(fd: CInt) throws(SystemCallError) {
        let index = Int(fd)
        guard index >= 0, index < slotCount, let slot = slots[index] else {
            throw SystemCallError(call: "io_uring poll", errno: ENOENT)
        }
        // The requests hold a reference to the socket: their removal, sent with the next wait,
        // is what lets a closed socket go. A receive that completes anyway finds no slot and
        // its buffer goes back to the ring.
        if slot.polling { try removePoll(fd, token: slot.token) }
        if slot.receiving, !slot.cancelling { try cancelReceive(fd, token: slot.token) }
        if slot.accepting, !slot.acceptCancelling { try cancel(acceptData(fd: fd, token: slot.token)) }
        if let id = slot.receive?.reclaim(force: true) { buffers?.giveBack(id) }
        if let send = slot.send {
            if slot.sending {
                // Its buffer stays until the kernel is done with it.
                let data = sendData(fd: fd, token: slot.token)
                orphans[data] = send
                try cancel(data)
            } else {
                send.release()
            }
            send.newlyQueued = nil
        }
        slots[index] = nil
        owners[index] = nil
    }

    public func wait(timeoutMilliseconds: CInt, into events: inout [PollEvent]) throws(SystemCallError) {
        events.removeAll(keepingCapacity: true)
        newlyQueued.drain { fd in if Int(fd) < slotCount { markDirty(fd) } }
        swap(&dirty, &dirtySpare)
        for fd in dirtySpare { try reconcile(fd) }
        dirtySpare.removeAll(keepingCapacity: true)
        buffers?.publish()

        let timeout = waiting.isEmpty ? timeoutMilliseconds : 0
        let result: CInt
        if timeout < 0 {
            result = io_uring_submit_and_wait(ring, 1)
        } else if timeout == 0 {
            result = io_uring_submit(ring)
        } else {
            var span = __kernel_timespec(tv_sec: Int64(timeout / 1000), tv_nsec: Int64(timeout % 1000) * 1_000_000)
            var first: UnsafeMutablePointer<io_uring_cqe>?
            result = io_uring_submit_and_wait_timeout(ring, &first, 1, &span, nil)
        }
        if result < 0, result != -ETIME, result != -EINTR {
            throw SystemCallError(call: "io_uring_enter", errno: -result)
        }

        let count = Int(io_uring_peek_batch_cqe(ring, completions, UInt32(capacity)))
        for i in 0..<count {
            guard let cqe = completions[i] else { continue }
            let data = cqe.pointee.user_data
            guard data != Self.removal else { continue }
            let kind = data & Self.acceptBits
            let event = kind == Self.acceptBits ? accepted(data: data, result: cqe.pointee.res, flags: cqe.pointee.flags)
                : kind == Self.receiveBit ? received(data: data, result: cqe.pointee.res, flags: cqe.pointee.flags)
                : kind == Self.sendBit ? sent(data: data, result: cqe.pointee.res)
                : polled(data: data, result: cqe.pointee.res)
            if let event { events.append(event) }
        }
        io_uring_cq_advance(ring, UInt32(count))
        for (fd, ready) in waiting {
            if let slot = slots[Int(fd)] { events.append(PollEvent(fd: fd, token: slot.token, ready: ready)) }
        }
        waiting.removeAll(keepingCapacity: true)
    }

    // MARK: - Completions

    /// The loop's event for a poll completion, or nil for a stale one.
    private func polled(data: UInt64, result: Int32) -> PollEvent? {
        let (fd, generation, token) = Self.decode(data)
        let index = Int(fd)
        guard index < slotCount, let slot = slots[index], slot.polling, slot.token == token,
              generations[index] == generation else { return nil }
        slots[index]?.polling = false
        markDirty(fd)
        // A socket polled for input has bytes for its readers to read themselves (no receive is
        // in the kernel while it is polled for input).
        if result > 0, Int16(truncatingIfNeeded: result) & Int16(POLLIN | POLLERR | POLLHUP) != 0 { slot.receive?.readersHaveTheTurn() }
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

    /// Hands a receive's bytes (or end, or error) to the socket's `CompletedReceive` and reports
    /// the socket readable; a receive that outlived its registration gives its buffer back.
    private func received(data: UInt64, result: Int32, flags: UInt32) -> PollEvent? {
        let (fd, _, token) = Self.decode(data)
        let index = Int(fd)
        let bufferID = flags & UInt32(IORING_CQE_F_BUFFER) != 0 ? UInt16(truncatingIfNeeded: flags >> IORING_CQE_BUFFER_SHIFT) : nil
        guard index < slotCount, let slot = slots[index], slot.receiving, slot.token == token,
              let receive = slot.receive, let buffers else {
            if let bufferID { buffers?.giveBack(bufferID) }
            return nil
        }
        slots[index]?.receiving = false
        slots[index]?.cancelling = false
        markDirty(fd)
        var ready: Interest = .readable
        switch result {
        case 1...:
            guard let bufferID else { return nil }  // cannot happen with buffer selection
            let more = flags & UInt32(IORING_CQE_F_SOCK_NONEMPTY) != 0 || Int(result) == buffers.size
            receive.received(buffers.bytes(bufferID, length: Int(result)), bufferID: bufferID, more: more)
        case 0:
            receive.receivedEnd()
        case -ECANCELED:
            return nil
        case -ENOBUFS, -EAGAIN, -EINTR:
            // Every buffer is lent: the socket's readers read it themselves until it is empty.
            receive.readersHaveTheTurn()
        default:
            receive.receiveFailed(-result)
            ready = [.readable, .writable]
        }
        // Bytes that arrive after the connection stopped reading (a cancellation that came too
        // late) wait in the receive until it reads again.
        return slot.interest.contains(.readable) ? PollEvent(fd: fd, token: token, ready: ready) : nil
    }

    /// Counts a send's bytes as sent and reports the socket writable once everything queued is
    /// sent (or the send failed); a send that outlived its registration frees its buffer.
    private func sent(data: UInt64, result: Int32) -> PollEvent? {
        let (fd, _, token) = Self.decode(data)
        let index = Int(fd)
        guard index < slotCount, let slot = slots[index], slot.sending, slot.token == token, let send = slot.send else {
            if let orphan = orphans.removeValue(forKey: data) {
                orphan.completed(result)
                orphan.release()
            }
            return nil
        }
        slots[index]?.sending = false
        markDirty(fd)
        send.completed(result)
        if send.failure != 0 {
            // The kernel reports a reset once, to whichever call comes first: taken by this
            // send, a receive would find a plain end of stream and the connection would log
            // "eof" for a peer that reset it.
            slot.receive?.receiveFailed(send.failure)
            return PollEvent(fd: fd, token: token, ready: [.readable, .writable])
        }
        return send.isEmpty && slot.interest.contains(.writable) ? PollEvent(fd: fd, token: token, ready: .writable) : nil
    }

    /// Hands an accepted descriptor (or the accept's error) to the listener's `CompletedAccept`
    /// and reports the listener readable; a descriptor accepted after its listener went is closed.
    private func accepted(data: UInt64, result: Int32, flags: UInt32) -> PollEvent? {
        let (fd, _, token) = Self.decode(data)
        let index = Int(fd)
        let more = flags & UInt32(IORING_CQE_F_MORE) != 0
        guard index < slotCount, let slot = slots[index], slot.accepting, slot.token == token, let accepts = slot.accepts else {
            if result >= 0 { Glibc.close(result) }
            return nil
        }
        if !more {
            // The request is over (an error, a cancellation, or the kernel's own reasons):
            // armed again before the next wait if the listener still wants clients.
            slots[index]?.accepting = false
            slots[index]?.acceptCancelling = false
        }
        switch result {
        case 0...: accepts.accepted(result)
        case -ECANCELED: return nil
        default: accepts.failed(-result)
        }
        // Reported again, level-triggered, by `reconcile` while descriptors wait.
        markDirty(fd)
        return slot.interest.contains(.readable) ? PollEvent(fd: fd, token: token, ready: .readable) : nil
    }

    // MARK: - Arming

    private func markDirty(_ fd: CInt) {
        let index = Int(fd)
        guard slots[index]?.dirty == false else { return }
        slots[index]?.dirty = true
        dirty.append(fd)
    }

    /// Arms, for one descriptor, the requests its interest and its receive's state call for.
    private func reconcile(_ fd: CInt) throws(SystemCallError) {
        let index = Int(fd)
        guard var slot = slots[index] else { return }
        slot.dirty = false
        let reading = slot.interest.contains(.readable)
        let writing = slot.interest.contains(.writable)
        var mask: UInt32 = writing && slot.send == nil ? UInt32(POLLOUT) : 0
        var needsPoll = true
        if let accepts = slot.accepts {
            if reading && accepts.hasNews { reportAgain(fd, .readable, &slot) }
            let wanted = reading && accepts.hasRoom
            if wanted && !slot.accepting {
                let sqe = try submissionEntry()
                io_uring_prep_multishot_accept(sqe, fd, nil, nil, CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue))
                io_uring_sqe_set_data64(sqe, acceptData(fd: fd, token: slot.token))
                slot.accepting = true
            } else if !wanted && slot.accepting && !slot.acceptCancelling {
                try cancel(acceptData(fd: fd, token: slot.token))
                slot.acceptCancelling = true
            }
            // The accept request reports the listener's errors itself.
            needsPoll = false
        } else if let receive = slot.receive, let send = slot.send {
            if !slot.sending, let bytes = send.nextSend() {
                let sqe = try submissionEntry()
                io_uring_prep_send(sqe, fd, bytes.baseAddress, bytes.count, CInt(MSG_NOSIGNAL))
                io_uring_sqe_set_data64(sqe, sendData(fd: fd, token: slot.token))
                slot.sending = true
            }
            // Room to write is an empty queue, not the socket's buffer: the kernel sends the
            // queue and reports (in `sent`) when it is done.
            let writable = writing && !slot.sending && send.isEmpty
            if let id = receive.reclaim() { buffers?.giveBack(id) }
            let news = receive.hasNews
            let readable = reading && news
            if readable || writable {
                var ready: Interest = []
                if readable { ready.insert(.readable) }
                if writable { ready.insert(.writable) }
                reportAgain(fd, ready, &slot)
            }
            // The readers have the turn while bytes may still be in the socket: wait for them by poll.
            if reading && !news && receive.mayRead { mask |= UInt32(POLLIN) }
            let byReceive = reading && !news && !receive.mayRead
            if byReceive && !slot.receiving {
                try armReceive(fd, token: slot.token)
                slot.receiving = true
            } else if !reading && slot.receiving && !slot.cancelling {
                try cancelReceive(fd, token: slot.token)
                slot.cancelling = true
            }
            // A receive or send in the kernel reports an error or hang-up itself.
            needsPoll = mask != 0 || !slot.receiving && !slot.sending && !readable && !writable
        } else if reading {
            mask |= UInt32(POLLIN)
        }
        if slot.polling && (!needsPoll || slot.pollMask != mask) {
            try removePoll(fd, token: slot.token)
            slot.polling = false
        }
        if needsPoll && !slot.polling {
            let sqe = try submissionEntry()
            io_uring_prep_poll_add(sqe, fd, mask)
            io_uring_sqe_set_data64(sqe, pollData(fd: fd, token: slot.token))
            slot.polling = true
            slot.pollMask = mask
        }
        slots[index] = slot
    }

    /// Reports `ready` with the next wait, without the kernel, and looks at the slot again
    /// before the wait after: reported until a reader takes it (level-triggered), and a lent
    /// buffer taken back once read.
    private func reportAgain(_ fd: CInt, _ ready: Interest, _ slot: inout Slot) {
        waiting.append((fd, ready))
        slot.dirty = true
        dirty.append(fd)
    }

    private func armReceive(_ fd: CInt, token: UInt32) throws(SystemCallError) {
        guard let buffers else { return }
        let sqe = try submissionEntry()
        io_uring_prep_recv(sqe, fd, nil, 0, 0)
        sqe.pointee.flags |= UInt8(1 << IOSQE_BUFFER_SELECT_BIT)
        sqe.pointee.buf_group = buffers.group
        io_uring_sqe_set_data64(sqe, receiveData(fd: fd, token: token))
    }

    /// Asks the kernel to stop a receive; bytes it already took still complete (and are kept).
    private func cancelReceive(_ fd: CInt, token: UInt32) throws(SystemCallError) {
        try cancel(receiveData(fd: fd, token: token))
    }

    /// Asks the kernel to stop the request with user data `data`; its completion still comes.
    private func cancel(_ data: UInt64) throws(SystemCallError) {
        let sqe = try submissionEntry()
        io_uring_prep_cancel64(sqe, data, 0)
        io_uring_sqe_set_data64(sqe, Self.removal)
        sqe.pointee.flags |= removalFlags
    }

    /// Queues the removal of the fd's poll request and retires its generation.
    private func removePoll(_ fd: CInt, token: UInt32) throws(SystemCallError) {
        let sqe = try submissionEntry()
        io_uring_prep_poll_remove(sqe, pollData(fd: fd, token: token))
        io_uring_sqe_set_data64(sqe, Self.removal)
        sqe.pointee.flags |= removalFlags
        generations[Int(fd)] &+= 1
    }

    // MARK: - User data: fd (bits 40–61), receive (63), send (62) or accept (both) flags, generation (32–39), token (0–31)

    private func pollData(fd: CInt, token: UInt32) -> UInt64 {
        UInt64(UInt32(bitPattern: fd)) << 40 | UInt64(generations[Int(fd)]) << 32 | UInt64(token)
    }

    /// A receive, a send or an accept needs no generation: at most one of each is in the kernel
    /// per registration, and the token tells registrations apart.
    private func receiveData(fd: CInt, token: UInt32) -> UInt64 { Self.requestData(Self.receiveBit, fd: fd, token: token) }
    private func sendData(fd: CInt, token: UInt32) -> UInt64 { Self.requestData(Self.sendBit, fd: fd, token: token) }
    private func acceptData(fd: CInt, token: UInt32) -> UInt64 { Self.requestData(Self.acceptBits, fd: fd, token: token) }

    private static func requestData(_ kind: UInt64, fd: CInt, token: UInt32) -> UInt64 {
        kind | UInt64(UInt32(bitPattern: fd)) << 40 | UInt64(token)
    }

    private static func decode(_ data: UInt64) -> (fd: CInt, generation: UInt8, token: UInt32) {
        (CInt(truncatingIfNeeded: (data & ~acceptBits) >> 40), UInt8(truncatingIfNeeded: data >> 32), UInt32(truncatingIfNeeded: data))
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
