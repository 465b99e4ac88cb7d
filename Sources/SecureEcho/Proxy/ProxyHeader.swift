// PROXY protocol headers (HAProxy's proxy-protocol.txt, versions 1 and 2), parsed from bytes
// already read. Pure: no I/O. ProxyHeaderReader decides how many bytes to read; this decides
// what they say.
import SecureEchoSystem
#if canImport(Glibc)
import Glibc
#endif

/// Which PROXY protocol versions a listener requires. A listener configured with one always
/// requires a header: it never guesses whether a client sent one.
public enum ProxyProtocol: String, CaseIterable, Sendable {
    case v1, v2, both

    var acceptsV1: Bool { self != .v2 }
    var acceptsV2: Bool { self != .v1 }
}

/// What a header says about the connection.
struct ProxyHeader {
    /// The client the proxy speaks for. Nil when the header names none (v2 LOCAL, as in a
    /// health check; v1 UNKNOWN; an unspecified or Unix-socket family): the socket's own peer
    /// then stands.
    var source: SocketAddress?
}

/// A header that is not one: the reason goes into the connection's close line.
struct ProxyHeaderError: Error, Equatable {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

enum ProxyHeaderParser {
    static let v1Prefix: [UInt8] = Array("PROXY ".utf8)
    static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    /// v1's own limit: "PROXY TCP6 " + two full IPv6 addresses + two ports + CRLF.
    static let v1MaximumLength = 107
    /// The fixed part of a v2 header: signature, version and command, family, length.
    static let v2FixedLength = 16
    /// v2 headers may carry TLVs up to 64 KiB; what proxies send (addresses, SSL details, a
    /// unique ID) is far below this, and a larger one is refused before it is read.
    static let v2MaximumLength = 16 + 4096
    /// The largest v2 address block (two Unix paths of 108 bytes): all that is kept of a header.
    static let v2AddressBlockMaximum = 216
    /// Enough bytes to tell the versions apart; shorter than either's shortest header
    /// ("PROXY UNKNOWN\r\n" is 15 bytes, v2 is at least 16), so reading them never takes a
    /// byte that belongs to the client.
    static let distinguishingLength = 12

    /// Which version `prefix` (the first bytes of the connection) starts, once it can tell:
    /// 1 or 2, or nil while more bytes are needed. Throws as soon as the bytes can be no
    /// header that `accepting` allows, so a client without one is refused at once.
    static func version(of prefix: [UInt8], accepting: ProxyProtocol) throws(ProxyHeaderError) -> Int? {
        let couldBeV1 = accepting.acceptsV1 && prefix.starts(with: v1Prefix.prefix(prefix.count))
        let couldBeV2 = accepting.acceptsV2 && prefix.starts(with: v2Signature.prefix(prefix.count))
        if couldBeV1 && prefix.count >= v1Prefix.count { return 1 }
        if couldBeV2 && prefix.count >= v2Signature.count { return 2 }
        guard couldBeV1 || couldBeV2 else {
            throw ProxyHeaderError("no PROXY protocol \(accepting == .both ? "" : "\(accepting.rawValue) ")header (the connection starts with \(describe(prefix)))")
        }
        return nil
    }

    // MARK: - Version 1

    /// `line` is a whole v1 header, CRLF included.
    static func parseV1(_ line: [UInt8]) throws(ProxyHeaderError) -> ProxyHeader {
        guard line.count >= 2, line[line.count - 2] == 0x0D, line[line.count - 1] == 0x0A else {
            throw ProxyHeaderError("v1 header without its CRLF")
        }
        let body = line.dropLast(2)
        guard body.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
            throw ProxyHeaderError("v1 header with a byte that is not printable ASCII")
        }
        let fields = body.split(separator: 0x20, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard fields.first == "PROXY", fields.count >= 2 else { throw ProxyHeaderError("v1 header without a protocol") }
        let family: CInt
        switch fields[1] {
        case "UNKNOWN": return ProxyHeader(source: nil)  // the rest of the line may say anything
        case "TCP4": family = AF_INET
        case "TCP6": family = AF_INET6
        default: throw ProxyHeaderError("v1 header with protocol '\(fields[1])' (TCP4, TCP6 or UNKNOWN)")
        }
        guard fields.count == 6 else {
            throw ProxyHeaderError("v1 \(fields[1]) header with \(fields.count) fields (6, single spaces)")
        }
        guard let sourcePort = port(fields[4]), port(fields[5]) != nil else {
            throw ProxyHeaderError("v1 header with a port that is not 0 to 65535 in decimal")
        }
        guard let source = SocketAddress.numeric(fields[2], family: family, port: sourcePort),
              SocketAddress.numeric(fields[3], family: family, port: 0) != nil else {
            throw ProxyHeaderError("v1 \(fields[1]) header with an address that is not an \(family == AF_INET ? "IPv4" : "IPv6") literal")
        }
        return ProxyHeader(source: source)
    }

    /// "0" to "65535", no sign, no leading zero.
    private static func port(_ text: String) -> UInt16? {
        guard (1...5).contains(text.utf8.count), text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              text == "0" || !text.hasPrefix("0") else { return nil }
        return UInt16(text)
    }

    // MARK: - Version 2

    /// The whole header's length, from its fixed 16 bytes; throws for what no address block
    /// can fix (version, command, family, transport, size).
    static func v2Length(_ fixed: [UInt8]) throws(ProxyHeaderError) -> Int {
        precondition(fixed.count >= v2FixedLength, "v2Length needs the fixed 16 bytes")
        guard fixed[12] >> 4 == 2 else { throw ProxyHeaderError("v2 header with version \(fixed[12] >> 4)") }
        guard fixed[12] & 0x0F <= 1 else { throw ProxyHeaderError("v2 header with command \(fixed[12] & 0x0F) (LOCAL or PROXY)") }
        let total = v2FixedLength + Int(fixed[14]) << 8 + Int(fixed[15])
        if fixed[12] & 0x0F == 1 {  // PROXY: the family must be one a TCP listener can carry
            switch (fixed[13] >> 4, fixed[13] & 0x0F) {
            case (0, 0), (1, 1), (2, 1), (3, 1): break
            case (_, 2): throw ProxyHeaderError("v2 header for a datagram (UDP) connection on a TCP listener")
            default: throw ProxyHeaderError("v2 header with family and transport 0x\(String(fixed[13], radix: 16))")
            }
        }
        guard total <= v2MaximumLength else {
            throw ProxyHeaderError("v2 header of \(total) bytes (at most \(v2MaximumLength))")
        }
        return total
    }

    /// `header` is the fixed part plus the start of the rest (up to the largest address
    /// block); `total` is the whole header's length.
    static func parseV2(_ header: [UInt8], total: Int) throws(ProxyHeaderError) -> ProxyHeader {
        let blockLength = total - v2FixedLength
        guard header[12] & 0x0F == 1 else { return ProxyHeader(source: nil) }  // LOCAL: a health check
        let needed: Int
        switch header[13] >> 4 {
        case 1: needed = 12   // two IPv4 addresses, two ports
        case 2: needed = 36   // two IPv6 addresses, two ports
        case 3: needed = 216  // two Unix paths
        default: return ProxyHeader(source: nil)  // unspecified: the socket's own endpoints
        }
        guard blockLength >= needed, header.count >= v2FixedLength + needed else {
            throw ProxyHeaderError("v2 address block of \(blockLength) bytes (this family needs \(needed))")
        }
        let addressLength = needed == 12 ? 4 : needed == 36 ? 16 : 0
        guard addressLength > 0 else { return ProxyHeader(source: nil) }  // Unix: no address to log
        let start = v2FixedLength
        let portAt = start + 2 * addressLength
        let port = UInt16(header[portAt]) << 8 | UInt16(header[portAt + 1])
        return ProxyHeader(source: SocketAddress(addressBytes: Array(header[start..<(start + addressLength)]), port: port))
    }

    /// The first bytes, for a refusal's reason: printable ASCII as it is, other bytes as
    /// escapes (`\r`, `\n`, `\x16`), in quotes.
    private static func describe(_ bytes: [UInt8]) -> String {
        var text = ""
        for byte in bytes {
            switch byte {
            case 0x0D: text += "\\r"
            case 0x0A: text += "\\n"
            case 0x20..<0x7F where byte != 0x5C && byte != 0x27: text.unicodeScalars.append(UnicodeScalar(byte))
            default: text += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
            }
        }
        return "'\(text)'"
    }
}
