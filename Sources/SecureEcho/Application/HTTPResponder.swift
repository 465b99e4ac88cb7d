// The metrics port's application: one HTTP/1.1 request, one response, then close.
// GET /metrics and GET / are served; other paths are 404, other methods 405. A request is
// held to 8 KiB, and its connection to the handshake timeout, like any other client.

struct HTTPResponder: Application {
    let status: StatusSource
    /// The request so far, until its blank line.
    private var request: [UInt8] = []
    static let maximumRequest = 8 * 1024

    init(status: StatusSource) {
        self.status = status
    }

    func start(_ session: SessionInfo) -> Reply { .nothing }

    mutating func receive(_ fresh: UnsafeRawBufferPointer) -> Reply {
        guard request.count + fresh.count <= Self.maximumRequest else {
            return Self.response(431, "Request Header Fields Too Large", "text/plain", "request over 8 KiB\n")
        }
        request.append(contentsOf: fresh)
        guard let headEnd = Self.endOfHead(request) else { return .nothing }
        let requestLine = request[..<headEnd].split(separator: 0x0A, maxSplits: 1).first.map { line in
            String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self)
        } ?? ""
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else {
            return Self.response(400, "Bad Request", "text/plain", "not an HTTP/1.x request line\n")
        }
        guard parts[0] == "GET" || parts[0] == "HEAD" else {
            return Self.response(405, "Method Not Allowed", "text/plain", "only GET\n", extraHeaders: "Allow: GET, HEAD\r\n")
        }
        let path = parts[1].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let head = parts[0] == "HEAD"
        switch path {
        case "/metrics":
            return Self.response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", status.metrics(), headOnly: head)
        case "/":
            return Self.response(200, "OK", "text/html; charset=utf-8", status.page, headOnly: head)
        default:
            return Self.response(404, "Not Found", "text/plain", "not found: try / or /metrics\n", headOnly: head)
        }
    }

    func finish() -> Reply { .nothing }

    /// Index just past the blank line that ends the head (CRLF CRLF, or LF LF from lax clients).
    private static func endOfHead(_ bytes: [UInt8]) -> Int? {
        var index = 0
        while index < bytes.count {
            if bytes[index] == 0x0A {
                if index + 1 < bytes.count, bytes[index + 1] == 0x0A { return index + 2 }
                if index + 2 < bytes.count, bytes[index + 1] == 0x0D, bytes[index + 2] == 0x0A { return index + 3 }
            }
            index += 1
        }
        return nil
    }

    private static func response(_ code: Int, _ reason: String, _ type: String, _ body: String,
                                 extraHeaders: String = "", headOnly: Bool = false) -> Reply {
        let bytes = Array(body.utf8)
        let head = "HTTP/1.1 \(code) \(reason)\r\nContent-Type: \(type)\r\nContent-Length: \(bytes.count)\r\n"
            + "Cache-Control: no-store\r\n\(extraHeaders)Connection: close\r\n\r\n"
        return .send(Array(head.utf8) + (headOnly ? [] : bytes), closeReason: "http \(code)")
    }
}
