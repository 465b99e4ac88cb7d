// SIGTERM and SIGINT as loop events (through a signalfd), and the shutdown grace deadline.

final class SignalWatcher: EventHandler {
    private unowned let loop: EventLoop
    private let descriptor: Socket
    private var token: UInt32 = 0
    private let onSignal: (CInt) -> Void
    private let onGraceExpired: () -> Void

    init(loop: EventLoop, signals: [CInt], onSignal: @escaping (CInt) -> Void,
         onGraceExpired: @escaping () -> Void) throws(SystemCallError) {
        self.loop = loop
        self.onSignal = onSignal
        self.onGraceExpired = onGraceExpired
        descriptor = try Signals.makeSignalDescriptor(signals)
        token = try loop.register(self, fd: descriptor.descriptor, interest: .readable)
    }

    func handle(_ ready: Interest) {
        while let signal = Signals.readSignal(from: descriptor) {
            onSignal(signal)
        }
    }

    /// Calls `onGraceExpired` after `seconds`.
    func armGrace(seconds: Double) {
        loop.schedule(deadline: loop.now + UInt64(seconds * 1e9), fd: descriptor.descriptor, token: token)
    }

    func deadlinePassed(now: UInt64) {
        onGraceExpired()
    }
}
