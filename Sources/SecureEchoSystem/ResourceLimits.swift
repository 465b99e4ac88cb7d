// The open-file limit the server needs for its connection limit.
#if canImport(Glibc)
import CSystem
import Glibc
#endif

public enum ResourceLimits {
    /// Raises the soft RLIMIT_NOFILE to `needed` when it is lower; throws when the hard limit
    /// does not allow it, saying what to change.
    public static func ensureOpenFiles(_ needed: Int, for maxConnections: Int) throws(ResourceLimitError) {
        var limit = rlimit()
        guard getrlimit(CInt(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        // RLIM_INFINITY is all ones, so "infinite" already compares as large enough.
        if limit.rlim_cur >= rlim_t(needed) { return }
        guard limit.rlim_max >= rlim_t(needed) else {
            throw ResourceLimitError(maxConnections: maxConnections, needed: needed, hardLimit: Int(clamping: limit.rlim_max))
        }
        limit.rlim_cur = rlim_t(needed)
        guard setrlimit(CInt(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            throw ResourceLimitError(maxConnections: maxConnections, needed: needed, hardLimit: Int(clamping: limit.rlim_max))
        }
    }
}

public struct ResourceLimitError: Error, CustomStringConvertible, Sendable {
    public let maxConnections: Int
    public let needed: Int
    public let hardLimit: Int
    public var description: String {
        "--max-connections \(maxConnections) needs \(needed) open files, but the hard limit is \(hardLimit): "
            + "raise it (ulimit -Hn, or LimitNOFILE= in a systemd unit) or lower --max-connections"
    }
}
