// SIGTERM, SIGINT and SIGHUP as loop events, through a signalfd: no work ever runs inside a
// signal handler. The process blocks them in every thread first (Signals.routeToServer).
import SecureEchoLoop
import SecureEchoSystem
import SecureEchoTLS

final class SignalWatcher: EventHandler {
    private let descriptor: Socket
    private let onSignal: (CInt) -> Void

    init(loop: EventLoop, signals: [CInt], onSignal: @escaping (CInt) -> Void) throws {
        // A thread that does not block them would take their default action and end the process.
        guard Signals.areBlocked(signals) else { throw SignalsNotRouted() }
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

/// The embedding program did not block the server's signals before starting threads.
public struct SignalsNotRouted: Error, CustomStringConvertible {
    public var description: String {
        "SIGTERM, SIGINT and SIGHUP must be blocked in every thread before the server starts: call Signals.routeToServer() first in main"
    }
}
