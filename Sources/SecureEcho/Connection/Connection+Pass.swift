// The byte pass of a connection: read what has arrived into the loop's buffer, let the
// application answer it, write the answer, and stop at whatever would block.
import SecureEchoLoop
import SecureEchoSystem

extension Connection {
    /// Reads per pass before yielding to other connections (fairness); the connection is then
    /// served again before the loop sleeps.
    static let readBudget = 16
    /// A read is only started with room for a whole TLS record's plaintext.
    static let minimumReadRoom = 16 * 1024
    /// Longest unfinished line moved to the read buffer's front; a longer one stays put, so a
    /// peer dribbling bytes onto a long line costs an append per read, not a copy of the line.
    static let maximumCarriedTail = 4 * 1024

    /// Writes what may be sent and reads what there is, until something would block
    /// (returns what to wait for) or the state moves past running (returns nil).
    func pump() throws(TransportError) -> Interest? {
        // One strong reference for the whole pass instead of one per use of the unowned property.
        let loop = self.loop
        var reads = 0
        while true {
            if output.sendableCount > 0, let blocked = try flush() {
                return blocked
            }
            if state == .flushing {
                state = .closing
                return nil
            }
            guard reads < Self.readBudget else {
                loop.servePending(fd: fd, token: token)
                return .readable
            }
            // A short unfinished line moves to the front of the read buffer, so the next
            // lines join it there and go out in one write instead of being copied behind it.
            var filled = 0
            if output.sendableCount == 0, output.heldCount > 0, output.heldCount <= Self.maximumCarriedTail {
                filled = output.moveHeld(to: loop.readBuffer)
            }
            let carried = filled
            // Gather what has arrived into the loop's buffer, then answer it in one pass: a TLS
            // record per read would otherwise become a record (or two, around a line's end)
            // and a send per read.
            var blockedRead: Interest?
            gathering: while reads < Self.readBudget, loop.readBuffer.count - filled >= Self.minimumReadRoom {
                reads += 1
                switch try transport.read(into: UnsafeMutableRawBufferPointer(rebasing: loop.readBuffer[filled...])) {
                case .bytes(let count):
                    filled += count
                case .wouldBlock(let interest):
                    blockedRead = interest
                    break gathering
                case .endOfStream:
                    peerEnded = true
                    break gathering
                }
            }
            if filled > carried {
                bytesIn += filled - carried
                traffic.bytesIn.add(filled - carried)
                // One read of the loop's clock: each access to another module's stored
                // property is a dynamic exclusivity check.
                let now = loop.now
                lastActivity = now
                lastInput = now
            }
            let blockedWrite = filled > 0 ? try answer(UnsafeRawBufferPointer(rebasing: loop.readBuffer[0..<filled]), carried: carried) : nil
            if peerEnded, state == .echoing {
                queue(application.finish())
                state = .flushing
            }
            if let blockedWrite { return blockedWrite }
            // Output queued rather than written (behind a long held line, an application's
            // reply) goes now, before the connection decides what to wait for.
            if output.sendableCount > 0, let blocked = try flush() { return blocked }
            if state == .flushing { continue }
            if let blockedRead {
                if transport.hasBufferedInput { loop.servePending(fd: fd, token: token) }
                return blockedRead
            }
        }
    }

    /// Discards input until the peer ends its stream (returns nil) or it would block. Reads as
    /// many times per pass as the application may: a peer flooding after our end of stream
    /// waits its turn like any other, and the closing grace cuts it off in the end.
    func drain() throws(TransportError) -> Interest? {
        for _ in 0..<Self.readBudget {
            switch try transport.read(into: loop.readBuffer) {
            case .bytes(let count):
                bytesIn += count
                traffic.bytesIn.add(count)
            case .wouldBlock(let interest): return interest
            case .endOfStream: return nil
            }
        }
        loop.servePending(fd: fd, token: token)
        return .readable
    }

    /// Input in the loop's read buffer: the first `carried` bytes are the held line moved out
    /// of the output buffer, the rest are new. When nothing is queued, echo is written
    /// straight from the read buffer; only what the socket refused, plus what the application
    /// holds back, is copied into the connection's own buffer.
    private func answer(_ bytes: UnsafeRawBufferPointer, carried: Int) throws(TransportError) -> Interest? {
        let fresh = UnsafeRawBufferPointer(rebasing: bytes[carried...])
        let reply = application.receive(fresh)
        guard case .echo(let releasable) = reply else {
            // Echo counts from the first byte not yet answered: the carried line included.
            if case .echoThenClose = reply { output.append(bytes) }
            queue(reply)
            return nil
        }
        guard output.isEmpty, policy.pace == nil else {
            output.append(fresh)
            output.release(releasable)
            return nil
        }
        var sent = 0
        var blocked: Interest?
        while sent < releasable {
            switch try transport.write(UnsafeRawBufferPointer(rebasing: bytes[sent..<releasable])) {
            case .bytes(let count):
                sent += count
                bytesOut += count
                traffic.bytesOut.add(count)
            case .wouldBlock(let interest):
                blocked = interest
            case .endOfStream:
                throw Self.endedWhileWriting
            }
            if blocked != nil { break }
        }
        output.append(UnsafeRawBufferPointer(rebasing: bytes[sent...]))
        output.release(releasable - sent)
        return blocked
    }

    /// Queues a reply to input that is already in the output buffer (held) or consumed.
    func queue(_ reply: Reply) {
        switch reply {
        case .echo(let count):
            output.release(count)
        case .send(let bytes, let closeReason):
            output.dropHeld()
            bytes.withUnsafeBytes { output.append($0) }
            output.release(bytes.count)
            if let closeReason { finishAfterSending(reason: closeReason) }
        case .echoThenClose(let count, let reason, let how):
            output.release(count)
            output.dropHeld()
            ending = how
            finishAfterSending(reason: reason)
        }
    }

    /// Sends queued output until it is gone (nil) or the transport would block (what to wait for).
    /// With a pace, one byte per interval; empty interest: wait for the next one's time.
    private func flush() throws(TransportError) -> Interest? {
        while output.sendableCount > 0 {
            var chunk = output.sendable
            if let pace = policy.pace {
                guard MonotonicClock.now() >= nextPacedWrite else { return [] }
                chunk = UnsafeRawBufferPointer(rebasing: chunk.prefix(1))
                nextPacedWrite = MonotonicClock.now() + pace
            }
            switch try transport.write(chunk) {
            case .bytes(let count):
                output.consume(count)
                bytesOut += count
                traffic.bytesOut.add(count)
                lastActivity = loop.now
            case .wouldBlock(let interest):
                return interest
            case .endOfStream:
                throw Self.endedWhileWriting
            }
        }
        return nil
    }

    /// A write answered end of stream: the peer's close_notify arrived while output was pending.
    private static let endedWhileWriting = TransportError(.peerStoppedReading, "close_notify received during a write")
}
