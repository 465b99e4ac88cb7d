// The little state the event loops share: the connection count behind --max-connections,
// the TLS context new connections get, and the shutdown requests. Everything else is
// per loop, so the per-connection path takes no lock.
import SecureEchoLoop
import SecureEchoSystem
import SecureEchoTLS
import Synchronization

final class SharedServerState: Sendable {
    /// Open client connections across every loop; only `reserveConnection` adds to it.
    let connections = Atomic<Int>(0)
    let shutdownRequested = Atomic<Bool>(false)
    /// A second signal, or the grace deadline: close what is left now.
    let cutRequested = Atomic<Bool>(false)
    /// Loops other than loop 0 that are still running.
    let otherLoopsRunning = Atomic<Int>(0)
    /// Connections closed at the grace deadline before finishing their echo.
    let cutAtGrace = Atomic<Int>(0)
    /// What new TLS connections are given; SIGHUP replaces it, open sessions keep theirs.
    private let tlsContext = Locked<TLSContext?>(nil)
    /// The same for the report port (its ALPN differs, so it has a context of its own).
    private let reportContext = Locked<TLSContext?>(nil)

    /// Takes one of `limit` connection slots, or returns false when all are taken. A
    /// compare-and-exchange, so loops accepting at the same moment can never overshoot.
    func reserveConnection(limit: Int) -> Bool {
        var current = connections.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = connections.compareExchange(
                expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    func releaseConnection() {
        connections.subtract(1, ordering: .relaxed)
    }

    var currentTLSContext: TLSContext? {
        get { tlsContext.withLock { $0 } }
        set { tlsContext.withLock { $0 = newValue } }
    }

    var currentReportContext: TLSContext? {
        get { reportContext.withLock { $0 } }
        set { reportContext.withLock { $0 = newValue } }
    }
}
