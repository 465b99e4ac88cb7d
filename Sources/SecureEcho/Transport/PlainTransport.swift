// Plain TCP: reads and writes go straight to the socket.

final class PlainTransport: Transport {
    private let socket: Socket
    /// A short read emptied the socket, so the next read is answered without a system call;
    /// the level-triggered poller reports anything that arrives in between (as in SocketBIO).
    private var readDrained = false
    /// A short write filled the send buffer: the next write would only get EAGAIN.
    private var writeFull = false

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
        if readDrained {
            readDrained = false
            return .wouldBlock(.readable)
        }
        switch try socket.read(into: buffer) {
        case .done(0): return .endOfStream
        case .done(let count):
            readDrained = count < buffer.count
            return .bytes(count)
        case .wouldBlock: return .wouldBlock(.readable)
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws -> IOResult {
        if writeFull {
            writeFull = false
            return .wouldBlock(.writable)
        }
        switch try socket.write(bytes) {
        case .done(let count):
            writeFull = count < bytes.count
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
