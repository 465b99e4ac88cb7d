import Glibc
import Testing
@testable import SecureEchoSystem

@Suite("SocketAddress")
struct SocketAddressTests {
    @Test("IPv4 and IPv6 literals resolve to themselves; IPv6 is bracketed with its port")
    func literals() throws {
        let v4 = try SocketAddress.resolve(host: "127.0.0.1", port: 8443)
        #expect(v4.family == AF_INET && v4.port == 8443 && v4.host == "127.0.0.1")
        #expect(v4.description == "127.0.0.1:8443")
        let v6 = try SocketAddress.resolve(host: "::1", port: 8000)
        #expect(v6.family == AF_INET6 && v6.port == 8000 && v6.host == "::1")
        #expect(v6.description == "[::1]:8000")
    }

    @Test("only :: is the IPv6 wildcard")
    func wildcard() throws {
        #expect(try SocketAddress.resolve(host: "::", port: 0).isIPv6Wildcard)
        #expect(try !SocketAddress.resolve(host: "::1", port: 0).isIPv6Wildcard)
        #expect(try !SocketAddress.resolve(host: "0.0.0.0", port: 0).isIPv6Wildcard)
    }

    @Test("an IPv4 client of a dual-stack socket (::ffff:a.b.c.d) reads as IPv4")
    func mappedIPv4() throws {
        let mapped = try SocketAddress.resolve(host: "::ffff:192.0.2.7", port: 4242)
        #expect(mapped.family == AF_INET6)
        #expect(mapped.description == "192.0.2.7:4242")
    }

    @Test("port 0 and the highest port survive the byte order")
    func ports() throws {
        #expect(try SocketAddress.resolve(host: "127.0.0.1", port: 0).port == 0)
        #expect(try SocketAddress.resolve(host: "::1", port: 65535).port == 65535)
        #expect(try SocketAddress.resolve(host: "127.0.0.1", port: 258).description == "127.0.0.1:258")
    }

    @Test("a host that does not resolve is named in the error")
    func unresolvable() {
        #expect {
            _ = try SocketAddress.resolve(host: "no-such-host.invalid", port: 1)
        } throws: { error in
            (error as? AddressError)?.description.hasPrefix("cannot resolve host 'no-such-host.invalid': ") == true
        }
        #expect(throws: AddressError.self) { _ = try SocketAddress.resolve(host: "300.1.1.1", port: 1) }
    }

    @Test("the address a bound socket reports is the one it was given")
    func roundTrip() throws {
        let socket = try Socket.listen(on: try SocketAddress.resolve(host: "127.0.0.1", port: 0))
        defer { socket.close() }
        let bound = try socket.localAddress()
        #expect(bound.host == "127.0.0.1" && bound.port != 0)
    }
}
