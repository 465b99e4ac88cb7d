// Text a client chose (an SNI name, ALPN protocols) made safe to show: valid UTF-8 stays as it
// is; any byte that is not part of valid UTF-8 becomes `\xNN`, and so does the backslash
// itself, so that every backslash in the result starts an escape and the bytes can be told
// apart exactly. (Control characters are valid UTF-8; log renderers escape those.)
package enum ClientText {
    package static func decode(_ bytes: some Collection<UInt8>) -> String {
        var out = ""
        var rest = Array(bytes)[...]
        while !rest.isEmpty {
            let length = validSequenceLength(rest)
            if length > 0, let scalar = String(validating: rest.prefix(length), as: UTF8.self) {
                if scalar == "\\" { out += "\\x5C" } else { out += scalar }
                rest = rest.dropFirst(length)
            } else {
                out += "\\x" + (rest[rest.startIndex] < 16 ? "0" : "") + String(rest[rest.startIndex], radix: 16, uppercase: true)
                rest = rest.dropFirst()
            }
        }
        return out
    }

    /// The length of the UTF-8 sequence the first byte announces, 0 when it announces none.
    private static func validSequenceLength(_ bytes: ArraySlice<UInt8>) -> Int {
        guard let first = bytes.first else { return 0 }
        let length: Int
        switch first {
        case 0x00...0x7F: length = 1
        case 0xC2...0xDF: length = 2
        case 0xE0...0xEF: length = 3
        case 0xF0...0xF4: length = 4
        default: return 0
        }
        return bytes.count >= length ? length : 0
    }
}
