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

    /// An IPv4 (4 bytes) or IPv6 (16 bytes) address in network order, with a port: for
    /// addresses that arrive as bytes (a PROXY protocol v2 header). Nil for any other length.
    package init?(addressBytes bytes: [UInt8], port: UInt16) {
        self.init()
        switch bytes.count {
        case 4:
            var v4 = sockaddr_in()
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &v4.sin_addr) { $0.copyBytes(from: bytes) }
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: v4, as: sockaddr_in.self) }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        case 16:
            var v6 = sockaddr_in6()
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &v6.sin6_addr) { $0.copyBytes(from: bytes) }
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: v6, as: sockaddr_in6.self) }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        default:
            return nil
        }
    }

    /// A numeric IPv4 (`AF_INET`) or IPv6 (`AF_INET6`) literal, never a name: for addresses
    /// that arrive as text from a peer (a PROXY protocol v1 header), so nothing a client sends
    /// reaches the resolver. Nil when `text` is not a literal of that family.
    package static func numeric(_ text: String, family: CInt, port: UInt16) -> SocketAddress? {
        var bytes = [UInt8](repeating: 0, count: family == AF_INET6 ? 16 : 4)
        guard family == AF_INET || family == AF_INET6, inet_pton(family, text, &bytes) == 1 else { return nil }
        return SocketAddress(addressBytes: bytes, port: port)
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
