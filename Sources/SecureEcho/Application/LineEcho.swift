// Line echo: each complete line goes back, terminator included. Decides *when* bytes go back,
// never *what*: the echo is the input, byte for byte.

/// Tracks the unfinished line at the end of a connection's input.
///
/// It never copies or splits anything: it answers "how many of the bytes held so far are
/// releasable", and keeps count of the held tail. A line ends at "\n" (so "\r\n" too, and `nc`,
/// which sends "\n" only, is answered). A line longer than `maxLine` is released in
/// `maxLine`-sized pieces, so the held tail is always shorter than `maxLine`.
///
///     held "Ho" + new "la\r\nMun"  ->  releases 6 ("Hola\r\n"), holds 3 ("Mun")
///
/// Only new bytes are scanned, and from the end, so dribbled input costs O(1) per byte.
struct LineEcho: Application {
    let maxLine: Int
    /// Bytes at the end of the input that belong to a line not yet complete.
    private(set) var held = 0

    init(maxLine: Int) {
        precondition(maxLine > 0, "maxLine must be positive")
        self.maxLine = maxLine
    }

    func start(_ session: SessionInfo) -> Reply { .echo(0) }

    mutating func receive(_ fresh: UnsafeRawBufferPointer) -> Reply {
        .echo(ingest(fresh))
    }

    /// The unfinished line goes back as it is.
    mutating func finish() -> Reply {
        defer { held = 0 }
        return .echo(held)
    }

    /// `bytes` arrived after all input seen so far. Returns how many bytes, counting the
    /// previously held ones first, are now releasable.
    mutating func ingest(_ bytes: UnsafeRawBufferPointer) -> Int {
        let total = held + bytes.count
        let unfinished: Int
        if let newline = Self.lastNewline(in: bytes) {
            unfinished = bytes.count - newline - 1
        } else {
            unfinished = total
        }
        held = unfinished % maxLine
        return total - held
    }

    private static func lastNewline(in bytes: UnsafeRawBufferPointer) -> Int? {
        var i = bytes.count
        while i > 0 {
            i -= 1
            if bytes[i] == UInt8(ascii: "\n") { return i }
        }
        return nil
    }
}
