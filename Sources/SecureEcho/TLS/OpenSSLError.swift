// OpenSSL's thread-local error queue, drained into a typed Swift error.
import COpenSSL

/// A failed OpenSSL operation with every reason string that was on the error queue.
public struct OpenSSLError: Error, CustomStringConvertible, Sendable {
    /// The call that failed, e.g. `SSL_accept` or `SSL_CTX_use_PrivateKey_file`.
    public let operation: String
    /// Reason strings in the order OpenSSL queued them, e.g. "wrong version number".
    public let reasons: [String]
    /// The last packed error code (for matching reasons such as SSL_R_UNEXPECTED_EOF_WHILE_READING).
    public let lastCode: UInt

    public var description: String {
        reasons.isEmpty ? "\(operation) failed" : "\(operation): \(reasons.joined(separator: "; "))"
    }

    /// Empties the calling thread's error queue into one error. Always call right after the failure.
    public static func drain(_ operation: String, fallback: String? = nil) -> OpenSSLError {
        var reasons: [String] = []
        var last: UInt = 0
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            last = code
            if let text = ERR_reason_error_string(code) {
                reasons.append(String(cString: text))
            } else {
                reasons.append("error:\(String(code, radix: 16))")
            }
        }
        if reasons.isEmpty, let fallback { reasons = [fallback] }
        return OpenSSLError(operation: operation, reasons: reasons, lastCode: last)
    }
}
