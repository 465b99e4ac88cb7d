// Stream echo (RFC 862): every byte goes back as soon as it arrives; nothing is ever held.
struct StreamEcho: Application {
    func start(_ session: SessionInfo) -> Reply { .echo(0) }
    func receive(_ fresh: UnsafeRawBufferPointer) -> Reply { .echo(fresh.count) }
    func finish() -> Reply { .echo(0) }
}
