// OpenSSL's thread-local error queue, drained into a typed Swift error.
import SecureEchoSystem
import COpenSSL

/// A failed OpenSSL operation with every reason string that was on the error queue.
public struct OpenSSLError: Error, CustomStringConvertible, Sendable {
    /// The call that failed, e.g. `SSL_accept` or `SSL_CTX_use_PrivateKey_file`.
    public let operation: String
    /// Reason strings in the order OpenSSL queued them, e.g. "wrong version number".
    public let reasons: [String]
    /// The last packed error code (for matching reasons such as SSL_R_UNEXPECTED_EOF_WHILE_READING).
    public let lastCode: UInt
    /// Every packed code, oldest first.
    public let codes: [UInt]

    public init(operation: String, reasons: [String], lastCode: UInt, codes: [UInt] = []) {
        self.operation = operation
        self.reasons = reasons
        self.lastCode = lastCode
        self.codes = codes.isEmpty && lastCode != 0 ? [lastCode] : codes
    }

    /// Whether any queued error carries this reason code (an `X509_R_…` or `SSL_R_…` constant).
    public func hasReason(_ reason: Int32) -> Bool {
        codes.contains { ERR_GET_REASON($0) == reason }
    }

    public var description: String {
        reasons.isEmpty ? "\(operation) failed" : "\(operation): \(reasons.joined(separator: "; "))"
    }

    /// Empties the calling thread's error queue into one error. Always call right after the failure.
    public static func drain(_ operation: String, fallback: String? = nil) -> OpenSSLError {
        var reasons: [String] = []
        var last: UInt = 0
        var codes: [UInt] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            last = code
            codes.append(code)
            if let text = ERR_reason_error_string(code) {
                reasons.append(String(cString: text))
            } else {
                reasons.append("error:\(String(code, radix: 16))")
            }
        }
        if reasons.isEmpty, let fallback { reasons = [fallback] }
        return OpenSSLError(operation: operation, reasons: reasons, lastCode: last, codes: codes)
    }
}
