// Plain TCP: reads and writes go straight to the socket.
import SecureEchoSystem
import SecureEchoTLS

package final class PlainTransport: Transport {
    private let socket: Socket
    // Unchecked exclusivity: asked on every read and write, only from the loop's thread, never
    // held across a call (see Connection's hot properties).
    @exclusivity(unchecked) private var memo = ReadinessMemo()

    package init(socket: Socket) {
        self.socket = socket
    }

    package var name: String { "plain" }
    package var session: NegotiatedSession? { nil }
    package var handshakeProgress: String? { nil }
    package var descriptor: CInt { socket.descriptor }
    package var completedReceive: CompletedReceive? { socket.completedReceive }
    package var queuedSend: QueuedSend? { socket.queuedSend }
    package var hasUnsentOutput: Bool { socket.hasUnsentOutput }
    package var hasBufferedInput: Bool { false }

    package func handshake() throws(TransportError) -> Step { .done }

    package func readBeforeHandshake(into buffer: UnsafeMutableRawBufferPointer, peek: Bool) throws(TransportError) -> IOResult {
        try socket.readPreamble(into: buffer, peek: peek)
    }

    package func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> IOResult {
        if memo.skipsRead() { return .wouldBlock(.readable) }
        let result: SyscallResult<Int>
        do { result = try socket.read(into: buffer) } catch { throw TransportError(error) }
        switch result {
        case .done(0): return .endOfStream
        case .done(let count):
            memo.read(count, of: buffer.count)
            return .bytes(count)
        case .wouldBlock: return .wouldBlock(.readable)
        }
    }

    package func write(_ bytes: UnsafeRawBufferPointer) throws(TransportError) -> IOResult {
        if memo.skipsWrite() { return .wouldBlock(.writable) }
        let result: SyscallResult<Int>
        do { result = try socket.write(bytes) } catch { throw TransportError(error) }
        switch result {
        case .done(let count):
            memo.wrote(count, of: bytes.count)
            return .bytes(count)
        case .wouldBlock: return .wouldBlock(.writable)
        }
    }

    package func shutdownOutput() throws(TransportError) -> Step {
        if socket.hasUnsentOutput { return .wouldBlock(.writable) }
        do { try socket.shutdownWrite() } catch { throw TransportError(error) }
        return .done
    }

    package func resetOnClose() { socket.setResetOnClose() }

    package func close() { socket.close() }
}
