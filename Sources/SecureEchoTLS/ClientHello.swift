// The client's first flight, parsed from its own bytes. OpenSSL 3.0 cannot be asked for it:
// SSL_client_hello_get1_extensions_present drops extensions it does not know (openssl#18286)
// and the wire order of extensions is only exposed from 3.2, and fingerprints need both.

/// What a ClientHello offered, every list in wire order, GREASE values kept (the fingerprints
/// and the report decide what to do with them).
package struct ClientHello: Sendable, Equatable {
    package var legacyVersion: UInt16 = 0
    package var cipherSuites: [UInt16] = []
    /// Extension types in the order they were sent.
    package var extensions: [UInt16] = []
    /// supported_versions (43); empty when absent.
    package var supportedVersions: [UInt16] = []
    /// supported_groups (10).
    package var supportedGroups: [UInt16] = []
    /// The groups of the key_share entries (51), in order.
    package var keyShareGroups: [UInt16] = []
    /// signature_algorithms (13).
    package var signatureAlgorithms: [UInt16] = []
    /// ec_point_formats (11).
    package var pointFormats: [UInt8] = []
    /// application_layer_protocol_negotiation (16): each protocol's raw bytes.
    package var alpn: [[UInt8]] = []
    /// The host_name entry of server_name (0), raw.
    package var serverName: [UInt8]?
    /// How many TLS records carried the message (set by whoever read the records).
    package var records = 1

    package init() {}

    /// Parses one handshake message: type 1, a 24-bit length, then the body. Every length is
    /// checked against what remains; bytes after the message are refused.
    package init(message bytes: UnsafeRawBufferPointer) throws(ClientHelloError) {
        var message = ByteReader(bytes)
        guard try message.u8("handshake type") == 1 else { throw .notClientHello }
        let length = try message.u24("handshake length")
        var body = try message.take(length, "handshake body")
        guard message.isEmpty else { throw .malformed("bytes after the ClientHello") }

        legacyVersion = try body.u16("legacy_version")
        _ = try body.take(32, "random")
        _ = try body.take(Int(try body.u8("session_id length")), "session_id")
        var suites = try body.take(Int(try body.u16("cipher_suites length")), "cipher_suites")
        cipherSuites = try suites.u16List("cipher_suites")
        let compression = try body.take(Int(try body.u8("compression_methods length")), "compression_methods")
        guard !compression.isEmpty else { throw .malformed("no compression method") }
        guard !body.isEmpty else { return }  // extensions are optional before TLS 1.3
        var list = try body.take(Int(try body.u16("extensions length")), "extensions")
        guard body.isEmpty else { throw .malformed("bytes after the extensions") }
        while !list.isEmpty {
            let type = try list.u16("extension type")
            var data = try list.take(Int(try list.u16("extension length")), "extension \(type)")
            extensions.append(type)
            try parseExtension(type, &data)
        }
    }

    /// Reassembles the ClientHello from TLS records as a client sends them (handshake records
    /// only, the message possibly split across several), for tests, fuzzing and tools; a
    /// server takes the message from OpenSSL, which has already done this.
    package static func reassembling(records bytes: [UInt8]) throws(ClientHelloError) -> ClientHello {
        var message: [UInt8] = []
        var records = 0
        var offset = 0
        while offset + 5 <= bytes.count {
            guard bytes[offset] == 22 else { throw .malformed("record type \(bytes[offset]), not handshake") }
            let length = Int(bytes[offset + 3]) << 8 | Int(bytes[offset + 4])
            guard length > 0, offset + 5 + length <= bytes.count else { throw .truncated("record") }
            message.append(contentsOf: bytes[(offset + 5)..<(offset + 5 + length)])
            records += 1
            offset += 5 + length
            if message.count >= 4, message.count >= 4 + (Int(message[1]) << 16 | Int(message[2]) << 8 | Int(message[3])) { break }
        }
        guard message.count >= 4 else { throw .truncated("record") }
        let total = 4 + (Int(message[1]) << 16 | Int(message[2]) << 8 | Int(message[3]))
        guard message.count >= total else { throw .truncated("handshake body") }
        let parsed = message[..<total].withUnsafeBytes { raw in
            Result { () throws(ClientHelloError) in try ClientHello(message: raw) }
        }
        var hello = try parsed.get()
        hello.records = records
        return hello
    }

    private mutating func parseExtension(_ type: UInt16, _ data: inout ByteReader) throws(ClientHelloError) {
        switch type {
        case 0:  // server_name: a list of (type, name); only host_name (0) exists
            var names = try data.take(Int(try data.u16("server_name list length")), "server_name list")
            while !names.isEmpty {
                let kind = try names.u8("server_name type")
                let name = try names.take(Int(try names.u16("server_name length")), "server_name")
                if kind == 0, serverName == nil { serverName = name.bytes }
            }
        case 10:
            var groups = try data.take(Int(try data.u16("supported_groups length")), "supported_groups")
            supportedGroups = try groups.u16List("supported_groups")
        case 11:
            pointFormats = try data.take(Int(try data.u8("ec_point_formats length")), "ec_point_formats").bytes
        case 13:
            var algorithms = try data.take(Int(try data.u16("signature_algorithms length")), "signature_algorithms")
            signatureAlgorithms = try algorithms.u16List("signature_algorithms")
        case 16:
            var protocols = try data.take(Int(try data.u16("alpn list length")), "alpn list")
            while !protocols.isEmpty {
                alpn.append(try protocols.take(Int(try protocols.u8("alpn protocol length")), "alpn protocol").bytes)
            }
        case 43:
            var versions = try data.take(Int(try data.u8("supported_versions length")), "supported_versions")
            supportedVersions = try versions.u16List("supported_versions")
        case 51:
            var shares = try data.take(Int(try data.u16("key_share length")), "key_share")
            while !shares.isEmpty {
                keyShareGroups.append(try shares.u16("key_share group"))
                _ = try shares.take(Int(try shares.u16("key_exchange length")), "key_exchange")
            }
        default:
            return  // contents not needed: the type and its place in the order are
        }
        guard data.isEmpty else { throw .malformed("bytes after the contents of extension \(type)") }
    }

    /// "TLSv1.3,TLSv1.2": supported_versions without GREASE, else legacy_version alone.
    package var offeredVersionNames: [String] {
        let versions = supportedVersions.filter { !TLSNames.isGREASE($0) }
        return (versions.isEmpty ? [legacyVersion] : versions).map(TLSNames.version)
    }

    /// The highest version offered: supported_versions without GREASE, else legacy_version.
    package var highestOfferedVersion: UInt16 {
        supportedVersions.filter { !TLSNames.isGREASE($0) }.max() ?? legacyVersion
    }
}

package enum ClientHelloError: Error, Equatable, CustomStringConvertible, Sendable {
    case notClientHello
    /// The named field runs past the end of what contains it.
    case truncated(String)
    case malformed(String)

    package var description: String {
        switch self {
        case .notClientHello: "not a ClientHello"
        case .truncated(let field): "ClientHello truncated in \(field)"
        case .malformed(let what): "malformed ClientHello: \(what)"
        }
    }
}

/// Reads big-endian fields from a buffer it does not own, never past its end.
private struct ByteReader {
    private let base: UnsafeRawBufferPointer
    private var offset = 0
    private let end: Int

    init(_ base: UnsafeRawBufferPointer) {
        self.base = base
        self.end = base.count
    }

    private init(_ base: UnsafeRawBufferPointer, offset: Int, end: Int) {
        self.base = base
        self.offset = offset
        self.end = end
    }

    var isEmpty: Bool { offset == end }
    var count: Int { end - offset }
    var bytes: [UInt8] { Array(base[offset..<end]) }

    mutating func u8(_ field: @autoclosure () -> String) throws(ClientHelloError) -> UInt8 {
        guard count >= 1 else { throw .truncated(field()) }
        defer { offset += 1 }
        return base[offset]
    }

    mutating func u16(_ field: @autoclosure () -> String) throws(ClientHelloError) -> UInt16 {
        guard count >= 2 else { throw .truncated(field()) }
        defer { offset += 2 }
        return UInt16(base[offset]) << 8 | UInt16(base[offset + 1])
    }

    mutating func u24(_ field: @autoclosure () -> String) throws(ClientHelloError) -> Int {
        guard count >= 3 else { throw .truncated(field()) }
        defer { offset += 3 }
        return Int(base[offset]) << 16 | Int(base[offset + 1]) << 8 | Int(base[offset + 2])
    }

    /// The next `length` bytes as their own reader; this one moves past them.
    mutating func take(_ length: Int, _ field: @autoclosure () -> String) throws(ClientHelloError) -> ByteReader {
        guard length <= count else { throw .truncated(field()) }
        defer { offset += length }
        return ByteReader(base, offset: offset, end: offset + length)
    }

    /// The rest as 16-bit values (an odd length is malformed); one allocation.
    mutating func u16List(_ field: @autoclosure () -> String) throws(ClientHelloError) -> [UInt16] {
        guard count % 2 == 0 else { throw .malformed("odd length of \(field())") }
        var values: [UInt16] = []
        values.reserveCapacity(count / 2)
        while !isEmpty { values.append(try u16(field())) }
        return values
    }
}
