// The event loop's timers: at most one deadline per descriptor, in a binary min-heap that
// knows where each descriptor's entry sits. The loop finds the next deadline in O(1), moves or
// cancels one in O(log n), and a closed connection takes its entry with it, so memory and
// wake-ups follow the open descriptors, not connection churn times the timeout.

package struct DeadlineHeap {
    package struct Entry: Equatable {
        package var deadline: UInt64
        package var fd: CInt
        package var token: UInt32
    }

    private var entries: [Entry] = []
    /// positions[fd] is the index of fd's entry in `entries`, or -1.
    private var positions: [Int32] = []

    package init() {}

    package var isEmpty: Bool { entries.isEmpty }
    package var count: Int { entries.count }
    package var earliest: UInt64? { entries.first?.deadline }

    /// Asks for a call at `deadline`. A descriptor has one entry: an earlier deadline moves it
    /// forward, a later one is ignored (the handler re-arms when the earlier one fires and finds
    /// nothing due). A new registration token replaces whatever the old one left.
    package mutating func schedule(_ deadline: UInt64, fd: CInt, token: UInt32) {
        let slot = Int(fd)
        if slot >= positions.count {
            positions.append(contentsOf: repeatElement(-1, count: max(slot + 1 - positions.count, positions.count)))
        }
        let position = Int(positions[slot])
        guard position >= 0 else {
            entries.append(Entry(deadline: deadline, fd: fd, token: token))
            positions[slot] = Int32(entries.count - 1)
            siftUp(entries.count - 1)
            return
        }
        if entries[position].token != token {
            entries[position].token = token
            entries[position].deadline = deadline
            siftDown(siftUp(position))
        } else if deadline < entries[position].deadline {
            entries[position].deadline = deadline
            siftUp(position)
        }
    }

    /// Forgets `fd`'s deadline, if any (its descriptor was deregistered).
    package mutating func cancel(fd: CInt) {
        let slot = Int(fd)
        guard slot < positions.count, positions[slot] >= 0 else { return }
        remove(at: Int(positions[slot]))
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    package mutating func popExpired(now: UInt64) -> Entry? {
        guard let first = entries.first, first.deadline <= now else { return nil }
        remove(at: 0)
        return first
    }

    // MARK: - Heap order

    private mutating func remove(at position: Int) {
        positions[Int(entries[position].fd)] = -1
        let last = entries.removeLast()
        guard position < entries.count else { return }
        entries[position] = last
        positions[Int(last.fd)] = Int32(position)
        siftDown(siftUp(position))
    }

    @discardableResult
    private mutating func siftUp(_ start: Int) -> Int {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].deadline < entries[parent].deadline else { break }
            swapEntries(child, parent)
            child = parent
        }
        return child
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < entries.count && entries[left].deadline < entries[smallest].deadline { smallest = left }
            if right < entries.count && entries[right].deadline < entries[smallest].deadline { smallest = right }
            if smallest == parent { return }
            swapEntries(parent, smallest)
            parent = smallest
        }
    }

    private mutating func swapEntries(_ a: Int, _ b: Int) {
        entries.swapAt(a, b)
        positions[Int(entries[a].fd)] = Int32(a)
        positions[Int(entries[b].fd)] = Int32(b)
    }
}
