// Plain TCP: reads and writes go straight to the socket.

final class PlainTransport: Transport {
    private let socket: Socket
    private var memo = ReadinessMemo()

    init(socket: Socket) {
        self.socket = socket
    }

    var name: String { "plain" }
    var negotiated: String? { nil }
    var handshakeProgress: String? { nil }
    var descriptor: CInt { socket.descriptor }
    var hasBufferedInput: Bool { false }

    func handshake() throws -> Step { .done }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> IOResult {
        if memo.skipsRead() { return .wouldBlock(.readable) }
        switch try socket.read(into: buffer) {
        case .done(0): return .endOfStream
        case .done(let count):
            memo.read(count, of: buffer.count)
            return .bytes(count)
        case .wouldBlock: return .wouldBlock(.readable)
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws -> IOResult {
        if memo.skipsWrite() { return .wouldBlock(.writable) }
        switch try socket.write(bytes) {
        case .done(let count):
            memo.wrote(count, of: bytes.count)
            return .bytes(count)
        case .wouldBlock: return .wouldBlock(.writable)
        }
    }

    func shutdownOutput() throws -> Step {
        try socket.shutdownWrite()
        return .done
    }

    func close() { socket.close() }
}
