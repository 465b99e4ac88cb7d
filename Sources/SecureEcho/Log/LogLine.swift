// One log event as one line of text: `TIME LEVEL MESSAGE key=value ...`, fields in a fixed
// order so lines read alike and grep alike. Values that come from clients (SNI, ALPN) are
// escaped, never copied raw: a log line cannot be split or forged by a peer.
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

    /// `{"time":…,"level":…,"event":…, fields…}`: the same fields in the same order as text,
    /// `message` only when the event has a sentence of its own.
    static func renderJSON(time: String, level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        let event = metadata["event"]?.description ?? message
        var line = "{\"time\":\(jsonString(time)),\"level\":\(jsonString(level.rawValue)),\"event\":\(jsonString(event))"
        if message != event { line += ",\"message\":\(jsonString(message))" }
        for key in orderedKeys(metadata) {
            guard let value = metadata[key]?.description else { continue }
            let rendered: String
            if numericFields.contains(key), let number = Int(value) {
                rendered = String(number)
            } else if key == "resumed" {
                rendered = value == "yes" ? "true" : "false"
            } else {
                rendered = jsonString(value)
            }
            line += ",\(jsonString(key)):\(rendered)"
        }
        return line + "}"
    }

    /// A JSON string literal: quotes, backslashes and every control character escaped.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value) {
                    out += "\\u" + String(scalar.value, radix: 16).leftPadded(to: 4)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static func orderedKeys(_ metadata: Logger.Metadata) -> [String] {
        metadata.keys.filter { $0 != "event" }.sorted { a, b in
            switch (rank[a], rank[b]) {
            case let (x?, y?): return x < y
            case (_?, nil): return true
            case (nil, _?): return false
            case (nil, nil): return a < b
            }
        }
    }

    static func render(time: String, level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        var line = "\(time) \(level) \(escaped(message, quoting: false))"
        for key in orderedKeys(metadata) {
            guard let value = metadata[key] else { continue }
            let text = escaped(value.description, quoting: true)
            line += alwaysQuoted.contains(key) && !text.hasPrefix("\"") ? " \(key)=\"\(text)\"" : " \(key)=\(text)"
        }
        return line
    }

    /// Control characters and backslashes as escapes; with `quoting`, a value with spaces,
    /// quotes or `=` (or none at all) is quoted, so `key=value` pairs always parse back.
    static func escaped(_ text: String, quoting: Bool) -> String {
        var needsQuotes = quoting && text.isEmpty
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"":
                out += quoting ? "\\\"" : "\""
                needsQuotes = needsQuotes || quoting
            case " ", "=":
                out.unicodeScalars.append(scalar)
                needsQuotes = needsQuotes || quoting
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value) {
                    out += "\\x" + String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 2)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return needsQuotes ? "\"\(out)\"" : out
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
