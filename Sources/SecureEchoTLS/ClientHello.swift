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
        _ = try body.vector8("session_id")
        cipherSuites = try body.vector16("cipher_suites").u16List("cipher_suites")
        guard !(try body.vector8("compression_methods")).isEmpty else { throw .malformed("no compression method") }
        guard !body.isEmpty else { return }  // extensions are optional before TLS 1.3
        var list = try body.vector16("extensions")
        guard body.isEmpty else { throw .malformed("bytes after the extensions") }
        while !list.isEmpty {
            let type = try list.u16("extension type")
            var data = try list.vector16("extension \(type)")
            extensions.append(type)
            try parseExtension(type, &data)
        }
    }

    /// Reassembles the ClientHello from TLS records as a client sends them (handshake records
    /// only, the message possibly split across several), for tests, fuzzing and tools; a
    /// server takes the message from OpenSSL, which has already done this.
    package static func reassembling(records bytes: [UInt8]) throws(ClientHelloError) -> ClientHello {
        /// The whole message's length, once its 4-byte header is in.
        func total(_ message: [UInt8]) -> Int? {
            message.count >= 4 ? 4 + (Int(message[1]) << 16 | Int(message[2]) << 8 | Int(message[3])) : nil
        }
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
            if let total = total(message), message.count >= total { break }
        }
        guard let total = total(message) else { throw .truncated("record") }
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
            var names = try data.vector16("server_name list")
            while !names.isEmpty {
                let kind = try names.u8("server_name type")
                let name = try names.vector16("server_name")
                if kind == 0, serverName == nil { serverName = name.bytes }
            }
        case 10:
            supportedGroups = try data.vector16("supported_groups").u16List("supported_groups")
        case 11:
            pointFormats = try data.vector8("ec_point_formats").bytes
        case 13:
            signatureAlgorithms = try data.vector16("signature_algorithms").u16List("signature_algorithms")
        case 16:
            var protocols = try data.vector16("alpn list")
            while !protocols.isEmpty { alpn.append(try protocols.vector8("alpn protocol").bytes) }
        case 43:
            supportedVersions = try data.vector8("supported_versions").u16List("supported_versions")
        case 51:
            var shares = try data.vector16("key_share")
            while !shares.isEmpty {
                keyShareGroups.append(try shares.u16("key_share group"))
                _ = try shares.vector16("key_exchange")
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

    /// A TLS vector with a one-byte length, as its own reader; this one moves past it.
    mutating func vector8(_ field: @autoclosure () -> String) throws(ClientHelloError) -> ByteReader {
        try take(Int(try u8("\(field()) length")), field())
    }

    /// A TLS vector with a two-byte length, as its own reader; this one moves past it.
    mutating func vector16(_ field: @autoclosure () -> String) throws(ClientHelloError) -> ByteReader {
        try take(Int(try u16("\(field()) length")), field())
    }

    /// What is left, as 16-bit values (an odd length is malformed); one allocation.
    func u16List(_ field: @autoclosure () -> String) throws(ClientHelloError) -> [UInt16] {
        guard count % 2 == 0 else { throw .malformed("odd length of \(field())") }
        var rest = self
        var values: [UInt16] = []
        values.reserveCapacity(count / 2)
        while !rest.isEmpty { values.append(try rest.u16(field())) }
        return values
    }
}
