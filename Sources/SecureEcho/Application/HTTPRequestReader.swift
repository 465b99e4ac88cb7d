// Reading one HTTP/1.1 request head, and answering it with one response and a close: what
// the metrics port and the report port share. Bodies are not read (only GET and HEAD serve).

/// Collects a request head, at most 8 KiB, until its blank line.
struct HTTPRequestReader {
    enum Outcome {
        /// More bytes are needed.
        case incomplete
        /// A GET or HEAD for `path` (the query removed).
        case request(path: String, headOnly: Bool)
        /// The request cannot be served: this answers it.
        case refused(Reply)
    }

    private var head: [UInt8] = []
    /// Where the search for the blank line resumes: bytes before it cannot start one, so a
    /// client sending its head a byte at a time costs a scan of each byte once, not of the
    /// whole head per read.
    private var searchedUpTo = 0
    static let maximumHead = 8 * 1024

    mutating func receive(_ fresh: UnsafeRawBufferPointer) -> Outcome {
        guard head.count + fresh.count <= Self.maximumHead else {
            return .refused(Self.response(431, "Request Header Fields Too Large", "text/plain", "request over 8 KiB\n"))
        }
        head.append(contentsOf: fresh)
        guard let end = Self.endOfHead(head, from: searchedUpTo) else {
            // A blank line is LF LF or LF CR LF: the last two bytes may still begin one.
            searchedUpTo = max(0, head.count - 2)
            return .incomplete
        }
        let requestLine = head[..<end].split(separator: 0x0A, maxSplits: 1).first.map { line in
            String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self)
        } ?? ""
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else {
            return .refused(Self.response(400, "Bad Request", "text/plain", "not an HTTP/1.x request line\n"))
        }
        guard parts[0] == "GET" || parts[0] == "HEAD" else {
            return .refused(Self.response(405, "Method Not Allowed", "text/plain", "only GET\n", extraHeaders: "Allow: GET, HEAD\r\n"))
        }
        let path = parts[1].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        return .request(path: path, headOnly: parts[0] == "HEAD")
    }

    /// Index just past the blank line that ends the head (CRLF CRLF, or LF LF from lax clients),
    /// looking from `start` on.
    private static func endOfHead(_ bytes: [UInt8], from start: Int) -> Int? {
        var index = start
        while index < bytes.count {
            if bytes[index] == 0x0A {
                if index + 1 < bytes.count, bytes[index + 1] == 0x0A { return index + 2 }
                if index + 2 < bytes.count, bytes[index + 1] == 0x0D, bytes[index + 2] == 0x0A { return index + 3 }
            }
            index += 1
        }
        return nil
    }

    /// A complete response, then a polite close.
    static func response(_ code: Int, _ reason: String, _ type: String, _ body: String,
                         extraHeaders: String = "", headOnly: Bool = false) -> Reply {
        let bytes = Array(body.utf8)
        let head = "HTTP/1.1 \(code) \(reason)\r\nContent-Type: \(type)\r\nContent-Length: \(bytes.count)\r\n"
            + "Cache-Control: no-store\r\n\(extraHeaders)Connection: close\r\n\r\n"
        return .send(Array(head.utf8) + (headOnly ? [] : bytes), closeReason: "http \(code)")
    }
}
