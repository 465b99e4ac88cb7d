// libFuzzer target: the HTTP request-head reader of the metrics and report ports against
// arbitrary bytes in arbitrary chunks, as a hostile client sends them. A trap here would stop
// the whole server, not one connection. Input: [chunk length seed, request bytes...].
// Checks: nothing traps; within the 8 KiB limit, the reader answers exactly when a blank line
// has arrived and how the bytes are split into reads does not change the answer; a served path
// has no query; every refusal is a complete
// HTTP/1.1 response whose Content-Length is its body's length, and closes the connection.
@testable import SecureEcho

private enum Answer: Equatable {
    case incomplete
    case request(path: String, headOnly: Bool)
    case refused([UInt8])
}

private func answer(_ bytes: ArraySlice<UInt8>, chunk: Int) -> Answer {
    var reader = HTTPRequestReader()
    var offset = bytes.startIndex
    while offset < bytes.endIndex {
        let end = min(bytes.endIndex, offset + chunk)
        let outcome = bytes[offset..<end].withUnsafeBytes { reader.receive($0) }
        offset = end
        switch outcome {
        case .incomplete: continue
        case .request(let path, let headOnly): return .request(path: path, headOnly: headOnly)
        case .refused(let reply):
            guard case .send(let response, let reason) = reply, reason != nil else {
                preconditionFailure("a refusal that does not close the connection")
            }
            return .refused(response)
        }
    }
    return .incomplete
}

private func checkResponse(_ response: [UInt8]) {
    precondition(response.starts(with: Array("HTTP/1.1 ".utf8)), "a response without its status line")
    let separator: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A]
    guard let end = response.indices.dropLast(separator.count - 1)
            .first(where: { response[$0..<($0 + separator.count)].elementsEqual(separator) }) else {
        preconditionFailure("a response without the blank line after its head")
    }
    let head = String(decoding: response[..<end], as: UTF8.self)
    let length = head.split(separator: "\r\n").first { $0.hasPrefix("Content-Length: ") }
        .flatMap { Int($0.dropFirst("Content-Length: ".count)) }
    precondition(length == response.count - end - separator.count, "Content-Length differs from the body")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let request = input[1...]
    let chunked = answer(request, chunk: Int(input[0]) + 1)
    switch chunked {
    case .incomplete: break
    case .request(let path, _): precondition(!path.contains("?"), "a served path kept its query")
    case .refused(let response): checkResponse(response)
    }
    // One read of everything answers as the reads did, unless the whole input is past the
    // limit (then one read is refused outright, where smaller reads may end the head first).
    if request.count <= HTTPRequestReader.maximumHead {
        precondition(answer(request, chunk: request.count) == chunked, "the answer depends on how the bytes were read")
        // A head is complete at its first blank line (CRLF CRLF, or LF LF from lax clients):
        // the reader answers then, not a byte later.
        let bytes = Array(request)
        let blankLine = bytes.indices.contains { at in
            bytes[at] == 0x0A && (bytes[(at + 1)...].first == 0x0A || bytes[(at + 1)...].starts(with: [0x0D, 0x0A]))
        }
        precondition((chunked != .incomplete) == blankLine, "answered before the blank line, or not after it")
    }
    return 0
}
