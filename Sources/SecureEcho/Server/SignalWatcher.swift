// SIGTERM, SIGINT and SIGHUP as loop events, through a signalfd: no work ever runs inside a
// signal handler. Create it before starting other threads, which then inherit the blocked mask.
import SecureEchoLoop
import SecureEchoSystem
import SecureEchoTLS

final class SignalWatcher: EventHandler {
    private let descriptor: Socket
    private let onSignal: (CInt) -> Void

    init(loop: EventLoop, signals: [CInt], onSignal: @escaping (CInt) -> Void) throws(SystemCallError) {
        self.onSignal = onSignal
        descriptor = try Signals.makeSignalDescriptor(signals)
        _ = try loop.register(self, fd: descriptor.descriptor, interest: .readable)
    }

    func handle(_ ready: Interest) {
        while let signal = Signals.readSignal(from: descriptor) {
            onSignal(signal)
        }
    }

    func deadlinePassed(now: UInt64) {}
}
