// The event loop's timers: a binary min-heap of deadlines, so the loop finds the next one
// in O(1) and never scans its connections. Entries are never removed early; a handler whose
// deadline moved simply ignores the stale entry (and the loop drops entries whose
// registration token no longer matches).
import SecureEchoSystem

package struct DeadlineHeap {
    package struct Entry {
        package var deadline: UInt64
        package var fd: CInt
        package var token: UInt32
    }

    private var entries: [Entry] = []

    package var isEmpty: Bool { entries.isEmpty }
    package var count: Int { entries.count }
    package var earliest: UInt64? { entries.first?.deadline }

    package mutating func insert(_ entry: Entry) {
        entries.append(entry)
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].deadline < entries[parent].deadline else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    package mutating func popExpired(now: UInt64) -> Entry? {
        guard let first = entries.first, first.deadline <= now else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < entries.count && entries[left].deadline < entries[smallest].deadline { smallest = left }
                if right < entries.count && entries[right].deadline < entries[smallest].deadline { smallest = right }
                if smallest == parent { break }
                entries.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return first
    }
}
