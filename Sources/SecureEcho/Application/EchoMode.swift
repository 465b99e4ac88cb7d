// The echo applications by the name the CLI gives them.

/// How the server echoes.
public enum EchoMode: String, CaseIterable, Sendable {
    /// Complete lines (ending in "\n", so "\r\n" too), terminator included.
    case line
    /// Every byte as it arrives (RFC 862).
    case stream

    func makeApplication(maxLine: Int) -> ApplicationFactory {
        switch self {
        case .line: { LineEcho(maxLine: maxLine) }
        case .stream: { StreamEcho() }
        }
    }
}
