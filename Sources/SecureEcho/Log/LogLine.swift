// One log event as one line of text: `TIME LEVEL MESSAGE key=value ...`, fields in a fixed
// order so lines read alike and grep alike. Values that come from clients (SNI, ALPN) are
// escaped, never copied raw: a log line cannot be split or forged by a peer.
//
// Lines are built as UTF-8 bytes in one buffer: every connection logs two lines at the default
// level, and building them from Strings (interpolation, escaping scalar by scalar, sorting keys
// through dictionary lookups) took 68,000 instructions a line, against 30,000 now (callgrind;
// a whole TLS handshake is about 2.5 million).
import Logging

enum LogLine {
    /// Fields in the order a reader wants them; any others follow, sorted by key.
    static let fieldOrder = ["peer", "proxy", "listener", "transport", "loop", "tls_version", "cipher", "sni", "alpn", "alpn_offered",
                             "resumed", "client", "bytes_in", "bytes_out", "duration_ms", "reason",
                             "offered_versions", "ja4", "offered_ciphers", "offered_groups", "client_hello"]
    /// Free text: quoted even when it has no space, so it reads the same whatever it says.
    static let alwaysQuoted: Set<String> = ["reason", "client"]
    private static let rank = Dictionary(uniqueKeysWithValues: fieldOrder.enumerated().map { ($1, $0) })

    /// Fields written as JSON numbers or booleans rather than strings.
    static let numericFields: Set<String> = ["loop", "bytes_in", "bytes_out", "duration_ms", "refused_since_last", "fd"]

    /// A typical line fits without growing the buffer.
    private static let typicalLength = 320

    /// Writes the line's time (ASCII, nothing to escape); the server's is `WallClock.appendTimestamp`.
    typealias Time = (inout [UInt8]) -> Void

    static func render(time: String, level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        String(decoding: text(time: { $0.append(contentsOf: time.utf8) }, level: level, message: message, metadata: metadata),
               as: UTF8.self)
    }

    static func renderJSON(time: String, level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        String(decoding: json(time: { $0.append(contentsOf: time.utf8) }, level: level, message: message, metadata: metadata),
               as: UTF8.self)
    }

    /// `TIME LEVEL MESSAGE key=value ...` as bytes, without the newline.
    static func text(time: Time, level: Logger.Level, message: String, metadata: Logger.Metadata) -> [UInt8] {
        var line: [UInt8] = []
        line.reserveCapacity(typicalLength)
        time(&line)
        line.append(.space)
        line.append(contentsOf: level.rawValue.utf8)
        line.append(.space)
        appendEscaped(message, quoting: false, to: &line)
        for (key, value) in orderedFields(metadata) {
            line.append(.space)
            line.append(contentsOf: key.utf8)
            line.append(.equals)
            appendEscaped(value, quoting: true, forceQuotes: alwaysQuoted.contains(key), to: &line)
        }
        return line
    }

    /// `{"time":…,"level":…,"event":…, fields…}` as bytes: the same fields in the same order as
    /// text, `message` only when the event has a sentence of its own.
    static func json(time: Time, level: Logger.Level, message: String, metadata: Logger.Metadata) -> [UInt8] {
        let event = metadata["event"]?.description ?? message
        var line: [UInt8] = []
        line.reserveCapacity(typicalLength)
        line.append(contentsOf: #"{"time":""#.utf8)
        time(&line)
        line.append(.quote)
        line.append(contentsOf: #","level":"#.utf8)
        appendJSONString(level.rawValue, to: &line)
        line.append(contentsOf: #","event":"#.utf8)
        appendJSONString(event, to: &line)
        if message != event {
            line.append(contentsOf: #","message":"#.utf8)
            appendJSONString(message, to: &line)
        }
        for (key, value) in orderedFields(metadata) {
            line.append(.comma)
            appendJSONString(key, to: &line)
            line.append(.colon)
            if numericFields.contains(key), let number = Int(value) {
                line.append(contentsOf: String(number).utf8)
            } else if key == "resumed" {
                line.append(contentsOf: (value == "yes" ? "true" : "false").utf8)
            } else {
                appendJSONString(value, to: &line)
            }
        }
        line.append(.closingBrace)
        return line
    }

    /// The fields but `event`, in `fieldOrder` and then by key: one rank lookup per field.
    private static func orderedFields(_ metadata: Logger.Metadata) -> [(key: String, value: String)] {
        var ranked: [(rank: Int, key: String, value: String)] = []
        ranked.reserveCapacity(metadata.count)
        for (key, value) in metadata where key != "event" {
            ranked.append((rank[key] ?? fieldOrder.count, key, value.description))
        }
        ranked.sort { $0.rank != $1.rank ? $0.rank < $1.rank : $0.key < $1.key }
        return ranked.map { ($0.key, $0.value) }
    }

    /// Control characters and backslashes as escapes; with `quoting`, a value with spaces,
    /// quotes or `=` (or none at all) is quoted, so `key=value` pairs always parse back.
    static func escaped(_ text: String, quoting: Bool) -> String {
        var out: [UInt8] = []
        appendEscaped(text, quoting: quoting, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func appendEscaped(_ text: String, quoting: Bool, forceQuotes: Bool = false, to line: inout [UInt8]) {
        let quoted = quoting && (forceQuotes || text.utf8.isEmpty
            || text.utf8.contains { $0 == .space || $0 == .equals || $0 == .quote })
        if quoted { line.append(.quote) }
        appendEscapedBytes(text, escapingQuotes: quoting, json: false, to: &line)
        if quoted { line.append(.quote) }
    }

    /// A JSON string literal: quotes, backslashes and every control character escaped.
    static func jsonString(_ text: String) -> String {
        var out: [UInt8] = []
        appendJSONString(text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func appendJSONString(_ text: String, to line: inout [UInt8]) {
        line.append(.quote)
        appendEscapedBytes(text, escapingQuotes: true, json: true, to: &line)
        line.append(.quote)
    }

    /// Backslashes, control characters (C0, DEL and C1) and, if asked, quotes as escapes:
    /// `\xHH` in text, `\u00hh` in JSON. Every other byte is copied (the text is valid UTF-8).
    private static func appendEscapedBytes(_ text: String, escapingQuotes: Bool, json: Bool, to line: inout [UInt8]) {
        let control = json ? appendUnicodeEscape : appendHexEscape
        var bytes = text.utf8.makeIterator()
        while let byte = bytes.next() {
            switch byte {
            case .backslash: line.append(.backslash); line.append(.backslash)
            case .quote:
                if escapingQuotes { line.append(.backslash) }
                line.append(.quote)
            case .newline: line.append(.backslash); line.append(UInt8(ascii: "n"))
            case .carriageReturn: line.append(.backslash); line.append(UInt8(ascii: "r"))
            case .tab: line.append(.backslash); line.append(UInt8(ascii: "t"))
            case 0..<0x20, 0x7F: control(byte, &line)
            case c1Lead:
                // U+0080–U+009F (C1 controls) are C2 80–C2 9F in UTF-8: escaped as the scalar.
                guard let next = bytes.next() else { line.append(byte); break }
                if (0x80...0x9F).contains(next) {
                    control(next, &line)
                } else {
                    line.append(byte)
                    line.append(next)
                }
            default: line.append(byte)
            }
        }
    }

    private static let c1Lead: UInt8 = 0xC2
    private static let upperHex = Array("0123456789ABCDEF".utf8)
    private static let lowerHex = Array("0123456789abcdef".utf8)

    /// `\xHH`, upper-case.
    private static func appendHexEscape(_ value: UInt8, _ line: inout [UInt8]) {
        line.append(.backslash)
        line.append(UInt8(ascii: "x"))
        line.append(upperHex[Int(value >> 4)])
        line.append(upperHex[Int(value & 0xF)])
    }

    /// `\u00hh`, lower-case, as JSON writes it.
    private static func appendUnicodeEscape(_ value: UInt8, _ line: inout [UInt8]) {
        line.append(contentsOf: #"\u00"#.utf8)
        line.append(lowerHex[Int(value >> 4)])
        line.append(lowerHex[Int(value & 0xF)])
    }
}

private extension UInt8 {
    static let space = UInt8(ascii: " ")
    static let equals = UInt8(ascii: "=")
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let newline = UInt8(ascii: "\n")
    static let carriageReturn = UInt8(ascii: "\r")
    static let tab = UInt8(ascii: "\t")
    static let comma = UInt8(ascii: ",")
    static let colon = UInt8(ascii: ":")
    static let closingBrace = UInt8(ascii: "}")
}
