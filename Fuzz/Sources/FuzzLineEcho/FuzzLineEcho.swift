// libFuzzer target: the echo applications against a naive model, over arbitrary chunkings.
// Input: [maxLine-1, mode, chunk lengths..., 0xFF separator, stream bytes...].
@testable import SecureEcho
@testable import SecureEchoLoop
@testable import SecureEchoSystem

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLineEcho(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 3 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    let maxLine = Int(input[0] % 64) + 1
    let mode: EchoMode = input[1] & 1 == 0 ? .line : .stream
    var cursor = 2
    var lengths: [Int] = []
    while cursor < size && input[cursor] != 0xFF && lengths.count < 64 {
        lengths.append(Int(input[cursor]))
        cursor += 1
    }
    let stream = Array(input[min(cursor + 1, size)...])

    var framer = LineEcho(maxLine: maxLine)
    let streamEcho = StreamEcho()
    var released = 0
    var offset = 0
    var chunk = 0
    while offset < stream.count {
        let length = min(stream.count - offset, lengths.isEmpty ? stream.count : max(1, lengths[chunk % lengths.count]))
        chunk += 1
        let reply = stream[offset..<(offset + length)].withUnsafeBytes { mode == .line ? framer.receive($0) : streamEcho.receive($0) }
        guard case .echo(let newlyReleased) = reply else { preconditionFailure("echo applications only echo") }
        offset += length
        released += newlyReleased
        if mode == .stream {
            precondition(released == offset, "stream echo releases everything at once")
        } else {
            precondition(released + framer.held == offset, "released + held must equal input so far")
            precondition(framer.held < maxLine, "held tail must be shorter than maxLine")
            precondition(!stream[released..<offset].contains(UInt8(ascii: "\n")), "a held tail never contains a newline")
            // The model: release through the last newline, then whole maxLine pieces of what follows.
            let lastNewline = stream[..<offset].lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
            let modelReleased = lastNewline + (offset - lastNewline) / maxLine * maxLine
            precondition(released == modelReleased, "framer released \(released), model \(modelReleased)")
        }
    }
    guard case .echo(let rest) = mode == .line ? framer.finish() : streamEcho.finish() else { preconditionFailure("echo applications only echo") }
    released += rest
    precondition(released == stream.count, "at end of stream every byte is released")
    return 0
}
