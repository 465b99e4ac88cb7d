// Plain POSIX threads for the extra event loops: each runs one loop until it returns.
#if canImport(Glibc)
import Glibc
#endif

/// Moves a value that is not Sendable into another thread. The sender must not touch it again:
/// an event loop and everything it owns belong to exactly one thread at a time.
package struct UnsafeTransfer<Value>: @unchecked Sendable {
    package let value: Value
    package init(value: Value) { self.value = value }
}

package final class LoopThread {
    private var thread = pthread_t()
    private var joined = false

    private final class Payload {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    package init(_ body: @escaping @Sendable () -> Void) throws(SystemCallError) {
        let payload = Unmanaged.passRetained(Payload(body)).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            Unmanaged<Payload>.fromOpaque(raw).takeRetainedValue().body()
            return nil
        }, payload)
        if rc != 0 {
            Unmanaged<Payload>.fromOpaque(payload).release()
            throw SystemCallError(call: "pthread_create", errno: rc)
        }
    }

    package func join() {
        guard !joined else { return }
        pthread_join(thread, nil)
        joined = true
    }
}
