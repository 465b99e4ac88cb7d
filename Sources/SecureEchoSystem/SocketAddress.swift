// IPv4/IPv6 socket addresses: resolution from host strings and the
// `host:port` / `[v6]:port` spelling used in logs, errors and the ready line.
#if canImport(Glibc)
import CSystem
import Glibc
#endif

public struct SocketAddress: CustomStringConvertible, Sendable {
    fileprivate var storage = sockaddr_storage()
    package var length: socklen_t

    /// An empty address of maximal size, for `accept4` and `getsockname` to fill.
    package init() {
        length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    }

    package var family: CInt { CInt(storage.ss_family) }

    /// The IPv6 unspecified address `::`, which can also accept IPv4 clients.
    package var isIPv6Wildcard: Bool {
        guard family == AF_INET6 else { return false }
        return withUnsafeBytes(of: storage) { raw in
            let address = raw.load(as: sockaddr_in6.self).sin6_addr
            return withUnsafeBytes(of: address) { $0.allSatisfy { $0 == 0 } }
        }
    }

    /// An IPv4 client seen by a dual-stack socket, as `::ffff:a.b.c.d`.
    private var mappedIPv4: [UInt8]? {
        guard family == AF_INET6 else { return nil }
        return withUnsafeBytes(of: storage) { raw in
            let address = raw.load(as: sockaddr_in6.self).sin6_addr
            let bytes = withUnsafeBytes(of: address) { Array($0) }
            return bytes.prefix(10).allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff ? Array(bytes[12...]) : nil
        }
    }

    /// Resolves a numeric or named host (`127.0.0.1`, `::1`, `localhost`) for a listener or a client.
    /// Numeric hosts never touch the resolver.
    public static func resolve(host: String, port: UInt16) throws(AddressError) -> SocketAddress {
        var hints = addrinfo()
        hints.ai_socktype = CInt(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw AddressError(host: host, reason: rc == 0 ? "no address" : String(cString: gai_strerror(rc)))
        }
        defer { freeaddrinfo(list) }
        var address = SocketAddress()
        guard let ai_addr = first.pointee.ai_addr else {
            throw AddressError(host: host, reason: "no address")
        }
        let size = Int(first.pointee.ai_addrlen)
        withUnsafeMutableBytes(of: &address.storage) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(start: ai_addr, count: size))
        }
        address.length = first.pointee.ai_addrlen
        return address
    }

    /// Calls `body` with the address as the `sockaddr` pointer the socket API wants.
    package func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: storage) { raw in
            try body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }

    /// Lets a syscall fill the address in place (accept4, getsockname).
    package mutating func withMutableSockAddr<R>(_ body: (UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) throws -> R) rethrows -> R {
        length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        var len = length
        let result = try withUnsafeMutableBytes(of: &storage) { raw in
            try body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), &len)
        }
        length = len
        return result
    }

    public var port: UInt16 {
        withUnsafeBytes(of: storage) { raw in
            switch family {
            case AF_INET: return UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
            case AF_INET6: return UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port)
            default: return 0
            }
        }
    }

    /// The numeric host, without brackets.
    public var host: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        return withUnsafeBytes(of: storage) { raw -> String in
            switch family {
            case AF_INET:
                var a = raw.load(as: sockaddr_in.self).sin_addr
                guard inet_ntop(AF_INET, &a, &text, socklen_t(text.count)) != nil else { return "?" }
            case AF_INET6:
                var a = raw.load(as: sockaddr_in6.self).sin6_addr
                guard inet_ntop(AF_INET6, &a, &text, socklen_t(text.count)) != nil else { return "?" }
            default:
                return "?"
            }
            return String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// `127.0.0.1:8443`, `[::1]:8443`; an IPv4 client of a dual-stack socket reads as IPv4.
    public var description: String {
        if let v4 = mappedIPv4 { return "\(v4.map(String.init).joined(separator: ".")):\(port)" }
        return family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// A host that does not resolve to an address.
public struct AddressError: Error, CustomStringConvertible, Sendable {
    public let host: String
    public let reason: String
    public var description: String { "cannot resolve host '\(host)': \(reason)" }
}
