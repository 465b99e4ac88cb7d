// The metrics port's application: one HTTP/1.1 request, one response, then close.
// GET /metrics and GET / are served; other paths are 404, other methods 405. A request is
// held to 8 KiB, and its connection to the handshake timeout, like any other client.

struct HTTPResponder: Application {
    let status: StatusSource
    private var reader = HTTPRequestReader()

    init(status: StatusSource) {
        self.status = status
    }

    func start(_ session: SessionInfo) -> Reply { .nothing }

    mutating func receive(_ fresh: UnsafeRawBufferPointer) -> Reply {
        switch reader.receive(fresh) {
        case .incomplete:
            return .nothing
        case .refused(let reply):
            return reply
        case .request("/metrics", let headOnly):
            return HTTPRequestReader.response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", status.metrics(), headOnly: headOnly)
        case .request("/", let headOnly):
            return HTTPRequestReader.response(200, "OK", "text/html; charset=utf-8", status.page, headOnly: headOnly)
        case .request(_, let headOnly):
            return HTTPRequestReader.response(404, "Not Found", "text/plain", "not found: try / or /metrics\n", headOnly: headOnly)
        }
    }

    func finish() -> Reply { .nothing }
}
