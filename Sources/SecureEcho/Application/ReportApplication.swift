// The report port's application: instead of echoing, it tells the client what its
// handshake looked like. A client that negotiated http/1.1 (curl, browsers) asks with one
// GET and gets JSON; any other client gets the text report at once, then close_notify.

struct ReportApplication: Application {
    let clientCertificatesRequested: Bool
    /// Set at start for an HTTP client, which asks for it with a request.
    private var pending: HandshakeReport?
    private var reader = HTTPRequestReader()

    init(clientCertificatesRequested: Bool) {
        self.clientCertificatesRequested = clientCertificatesRequested
    }

    mutating func start(_ session: SessionInfo) -> Reply {
        guard let report = HandshakeReport(session, clientCertificatesRequested: clientCertificatesRequested) else {
            return .send(Array("error: no TLS handshake to report on\n".utf8), closeReason: "no report")
        }
        if session.tls?.alpn == "http/1.1" {
            pending = report
            return .nothing
        }
        return .send(Array(report.text.utf8), closeReason: "report sent")
    }

    mutating func receive(_ fresh: UnsafeRawBufferPointer) -> Reply {
        // A text client's input changes nothing: its report is already on its way.
        guard let report = pending else { return .nothing }
        switch reader.receive(fresh) {
        case .incomplete:
            return .nothing
        case .refused(let reply):
            pending = nil
            return reply
        case .request("/", let headOnly):
            pending = nil
            return HTTPRequestReader.response(200, "OK", "application/json", report.json, headOnly: headOnly)
        case .request(_, let headOnly):
            pending = nil
            return HTTPRequestReader.response(404, "Not Found", "text/plain", "not found: the report is at /\n", headOnly: headOnly)
        }
    }

    func finish() -> Reply { .nothing }
}
