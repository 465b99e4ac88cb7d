// libFuzzer target: the PROXY protocol header parser against arbitrary bytes, as a hostile
// client or a broken balancer would send them. Checks: nothing traps (a truncated v2 address
// block crashed other parsers, CVE-2019-14243); what is accepted is well formed.
@testable import SecureEcho
@testable import SecureEchoSystem

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProxyHeader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for accepting in ProxyProtocol.allCases {
        for length in [1, 6, 12] where bytes.count >= length {
            if let version = try? ProxyHeaderParser.version(of: Array(bytes.prefix(length)), accepting: accepting) {
                precondition(version == 1 ? accepting.acceptsV1 : accepting.acceptsV2, "a version the listener does not accept")
            }
        }
    }
    if let header = try? ProxyHeaderParser.parseV1(bytes) {
        precondition(bytes.count >= 2 && bytes[bytes.count - 2] == 0x0D && bytes[bytes.count - 1] == 0x0A, "v1 without CRLF accepted")
        precondition(bytes.starts(with: ProxyHeaderParser.v1Prefix), "v1 without its prefix accepted")
        if let source = header.source { precondition(source.port <= 65535 && !source.description.isEmpty) }
    }
    if bytes.count >= ProxyHeaderParser.v2FixedLength, let total = try? ProxyHeaderParser.v2Length(bytes) {
        precondition(total >= ProxyHeaderParser.v2FixedLength && total <= ProxyHeaderParser.v2MaximumLength, "length out of bounds")
        // The reader hands over at most the fixed part and the largest address block, and only
        // once the whole header has arrived; here the bytes may stop anywhere before that.
        let kept = Array(bytes.prefix(min(total, ProxyHeaderParser.v2FixedLength + ProxyHeaderParser.v2AddressBlockMaximum)))
        _ = try? ProxyHeaderParser.parseV2(kept, total: total)
    }
    return 0
}
