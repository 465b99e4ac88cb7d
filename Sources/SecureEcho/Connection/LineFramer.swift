// Decides how much of the received byte stream may be echoed now. Pure: no I/O, no buffers.
import SecureEchoLoop
import SecureEchoSystem
import SecureEchoTLS

/// How the server echoes.
public enum EchoMode: String, CaseIterable, Sendable {
    /// Complete lines (ending in "\n", so "\r\n" too), terminator included.
    case line
    /// Every byte as it arrives (RFC 862).
    case stream
}

/// Tracks the unfinished line at the end of a connection's input.
///
/// The echo is the input, byte for byte; line mode only decides *when* bytes may go back.
/// So the framer never copies or splits anything: it answers "how many of the bytes held
/// so far are releasable", and keeps count of the held tail. A line longer than `maxLine`
/// is released in `maxLine`-sized pieces, so the held tail is always shorter than `maxLine`.
///
///     held "Ho" + new "la\r\nMun"  ->  releases 6 ("Hola\r\n"), holds 3 ("Mun")
///
/// Only new bytes are scanned, and from the end, so dribbled input costs O(1) per byte.
public struct LineFramer: Sendable {
    public let mode: EchoMode
    public let maxLine: Int
    /// Bytes at the end of the input that belong to a line not yet complete.
    public private(set) var held = 0

    public init(mode: EchoMode, maxLine: Int) {
        precondition(maxLine > 0, "maxLine must be positive")
        self.mode = mode
        self.maxLine = maxLine
    }

    /// `bytes` arrived after all input seen so far. Returns how many bytes, counting the
    /// previously held ones first, are now releasable.
    public mutating func ingest(_ bytes: UnsafeRawBufferPointer) -> Int {
        let total = held + bytes.count
        guard mode == .line else {
            held = 0
            return total
        }
        let unfinished: Int
        if let newline = Self.lastNewline(in: bytes) {
            unfinished = bytes.count - newline - 1
        } else {
            unfinished = total
        }
        held = unfinished % maxLine
        return total - held
    }

    /// The peer ended its stream: the unfinished line goes back as it is. Returns its length.
    public mutating func finish() -> Int {
        defer { held = 0 }
        return held
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
