// The swift-log handler the server runs with: renders each event (message + metadata) as one
// line and hands it to the bounded stderr writer, so logging never blocks an event loop.
import Logging
import SecureEchoSystem
#if canImport(Glibc)
import Glibc
#endif

/// How each event is written.
public enum LogFormat: String, CaseIterable, Sendable {
    /// `TIME LEVEL EVENT key=value ...`
    case text
    /// One JSON object per line.
    case json
}

public struct EventLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let writer: LogWriter
    private let format: LogFormat

    public init(writer: LogWriter, level: Logger.Level, format: LogFormat = .text) {
        self.writer = writer
        self.logLevel = level
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        // The server never sets handler metadata: most events need no merged copy.
        var fields = event.metadata ?? [:]
        if !metadata.isEmpty { fields = metadata.merging(fields) { $1 } }
        if let error = event.error { fields["error"] = "\(error)" }
        let message = event.message.description
        let line = format == .json
            ? LogLine.json(time: WallClock.appendTimestamp, level: event.level, message: message, metadata: fields)
            : LogLine.text(time: WallClock.appendTimestamp, level: event.level, message: message, metadata: fields)
        line.withUnsafeBytes { writer.lines.write(bytes: $0) }
    }
}

/// Standard error behind a bounded queue (see `LineWriter`): created once, before the event
/// loops, and flushed at exit.
public final class LogWriter: Sendable {
    let lines: LineWriter

    /// Starts the writer thread. Call after `Signals.routeToServer()`, so the thread
    /// inherits the blocked signals.
    public init() throws {
        lines = try LineWriter(descriptor: STDERR_FILENO)
    }

    /// Lines dropped because stderr was not keeping up.
    public var droppedLines: Int { lines.droppedLines }

    /// Writes what is queued, waiting at most `timeout` seconds.
    public func flush(timeout: Double = 2) {
        lines.flush(timeout: timeout)
    }
}
