// What a descriptor waits for: readable, writable, or both. The one readiness word every
// layer speaks; each poller backend translates it to its own flags at its edge.

/// What a registration waits for.
public struct Interest: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let readable = Interest(rawValue: 1 << 0)
    public static let writable = Interest(rawValue: 1 << 1)

    public var description: String {
        switch self {
        case []: return "none"
        case .readable: return "read"
        case .writable: return "write"
        default: return "read+write"
        }
    }
}
