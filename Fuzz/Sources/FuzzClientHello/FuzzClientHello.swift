// libFuzzer target: the ClientHello parser and record reassembly against arbitrary bytes, as
// any client may send them before a single check of OpenSSL's has run. Checks: nothing traps
// or reads past the input; what parses has fingerprints of the shape the specifications give,
// and the same message parses the same whether read as a message or from one record.
@testable import SecureEchoTLS

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzClientHello(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? ClientHello.reassembling(records: bytes)
    guard let hello = try? bytes.withUnsafeBytes({ try ClientHello(message: $0) }) else { return 0 }

    let ja4 = hello.ja4
    let sections = ja4.split(separator: "_", omittingEmptySubsequences: false)
    precondition(sections.count == 3 && sections[0].count == 10 && sections[1].count == 12 && sections[2].count == 12,
                 "JA4 of the wrong shape: \(ja4)")
    let ciphers = min(hello.cipherSuites.filter { !TLSNames.isGREASE($0) }.count, 99)
    precondition(Int(sections[0].dropFirst(4).prefix(2)) == ciphers, "JA4 cipher count \(ja4) for \(ciphers)")
    precondition(hello.ja3.split(separator: ",", omittingEmptySubsequences: false).count == 5, "JA3 without five fields")
    precondition(hello.ja3Hash.count == 32, "JA3 hash not 32 hex digits")
    precondition(hello.extensions.count * 4 <= size, "more extensions than bytes to hold them")

    // The same message in one handshake record parses to the same thing.
    if size <= 16384 {
        let record = [22, 3, 1, UInt8(size >> 8), UInt8(size & 0xff)] + bytes
        if let again = try? ClientHello.reassembling(records: record) {
            precondition(again == hello, "one record parsed differently from the message")
        }
    }
    return 0
}
