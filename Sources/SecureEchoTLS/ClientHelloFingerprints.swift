// JA3 (salesforce/ja3) and JA4 / JA4_r (FoxIO's JA4 technical details), built exactly as
// their specifications say from the parsed ClientHello. GREASE is left out of every list.
import COpenSSL

extension ClientHello {
    /// "771,4865-4866-…,0-23-…,29-23-24,0": version, suites, extensions, groups, point
    /// formats, in decimal and wire order.
    package var ja3: String {
        func decimal(_ values: [UInt16]) -> String {
            values.lazy.filter { !TLSNames.isGREASE($0) }.map { String($0) }.joined(separator: "-")
        }
        return [String(legacyVersion), decimal(cipherSuites), decimal(extensions), decimal(supportedGroups),
                pointFormats.map { String($0) }.joined(separator: "-")].joined(separator: ",")
    }

    /// The MD5 of `ja3`, in lowercase hex.
    package var ja3Hash: String { Digest.hex(.md5, Array(ja3.utf8)) }

    /// "t13d1516h2_8daaf6152771_e5627efa2ab1".
    package var ja4: String {
        let parts = ja4Parts
        return "\(parts.prefix)_\(Self.truncatedHash(parts.ciphers))_\(Self.truncatedHash(parts.extensions))"
    }

    /// JA4 with the lists in clear instead of hashed (JA4_r).
    package var ja4Raw: String {
        let parts = ja4Parts
        return "\(parts.prefix)_\(parts.ciphers)_\(parts.extensions)"
    }

    /// The three sections of JA4 before hashing: "t13d1516h2", the sorted suites, and the
    /// sorted extensions (without SNI and ALPN) joined to the signature algorithms by "_".
    private var ja4Parts: (prefix: String, ciphers: String, extensions: String) {
        let suites = cipherSuites.filter { !TLSNames.isGREASE($0) }
        let types = extensions.filter { !TLSNames.isGREASE($0) }
        let algorithms = signatureAlgorithms.filter { !TLSNames.isGREASE($0) }
        let prefix = "t" + Self.ja4Version(highestOfferedVersion) + (types.contains(0) ? "d" : "i")
            + Self.twoDigits(suites.count) + Self.twoDigits(types.count) + Self.ja4ALPN(alpn.first)
        let sortedSuites = suites.sorted().map(Self.hex4).joined(separator: ",")
        var sortedTypes = types.filter { $0 != 0x0000 && $0 != 0x0010 }.sorted().map(Self.hex4).joined(separator: ",")
        if !algorithms.isEmpty { sortedTypes += "_" + algorithms.map(Self.hex4).joined(separator: ",") }
        return (prefix, sortedSuites, sortedTypes)
    }

    private static func ja4Version(_ version: UInt16) -> String {
        switch version {
        case 0x0304: "13"
        case 0x0303: "12"
        case 0x0302: "11"
        case 0x0301: "10"
        case 0x0300: "s3"
        case 0x0002: "s2"
        case 0xfeff: "d1"
        case 0xfefd: "d2"
        case 0xfefc: "d3"
        default: "00"
        }
    }

    private static func twoDigits(_ count: Int) -> String {
        let capped = min(count, 99)
        return capped < 10 ? "0\(capped)" : "\(capped)"
    }

    /// First and last character of the first protocol; "00" when there is none or it is
    /// empty; the first and last hex digits of its bytes when either end is not alphanumeric.
    private static func ja4ALPN(_ first: [UInt8]?) -> String {
        guard let first, let head = first.first, let tail = first.last else { return "00" }
        func isAlphanumeric(_ byte: UInt8) -> Bool {
            (0x30...0x39).contains(byte) || (0x41...0x5a).contains(byte) || (0x61...0x7a).contains(byte)
        }
        if isAlphanumeric(head) && isAlphanumeric(tail) {
            return String(decoding: [head, tail], as: UTF8.self)
        }
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: [digits[Int(head >> 4)], digits[Int(tail & 0x0f)]], as: UTF8.self)
    }

    private static func hex4(_ value: UInt16) -> String { String(TLSNames.hex(value).dropFirst(2)) }

    /// The first 12 hex digits of SHA-256, or twelve zeros for an empty list.
    private static func truncatedHash(_ text: String) -> String {
        text.isEmpty ? "000000000000" : String(Digest.hex(.sha256, Array(text.utf8)).prefix(12))
    }
}

/// One-shot digests through OpenSSL's EVP interface.
package enum Digest {
    package enum Algorithm { case md5, sha256 }

    /// Lowercase hex; empty if OpenSSL refused (MD5 is absent from a FIPS-only provider).
    package static func hex(_ algorithm: Algorithm, _ bytes: [UInt8]) -> String {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let md = algorithm == .md5 ? EVP_md5() : EVP_sha256()
        guard EVP_Digest(bytes, bytes.count, &output, &length, md, nil) == 1 else {
            ERR_clear_error()
            return ""
        }
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(Int(length) * 2)
        for byte in output.prefix(Int(length)) {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
