// Reads a PROXY protocol header off the raw socket, before the TLS handshake, without ever
// taking a byte past its end: what follows is the client's (a ClientHello, a line to echo).
import SecureEchoSystem

/// The preamble of a listener behind a proxy (`--proxy-protocol`).
///
/// Every read is bounded by what the header can still be: the first 12 bytes (shorter than
/// any header) tell the versions apart; a v2 header says its length in its first 16; a v1
/// header ends at its CRLF, so it is peeked and only the bytes up to the CRLF are taken. A
/// header split over any number of TCP segments is read as it arrives, and everything read is
/// consumed, so a half header waits for readability instead of spinning. Bytes are kept only
/// as far as they are parsed (107 for v1, the address block for v2); TLVs are skipped.
/// The whole header must arrive within the handshake timeout.
struct ProxyHeaderReader: Preamble {
    let accepting: ProxyProtocol
    private var header: [UInt8] = []
    /// Bytes of the header read so far (more than `header` holds once v2 TLVs are skipped).
    private var consumed = 0
    private var version: Int?
    /// A v2 header's whole length, once its fixed part has arrived.
    private var v2Total: Int?
    private(set) var client: String?

    init(accepting: ProxyProtocol) {
        self.accepting = accepting
        header.reserveCapacity(ProxyHeaderParser.v1MaximumLength)
    }

    var progress: String { "PROXY header: \(consumed) bytes read" }

    mutating func advance(_ transport: any Transport, scratch: UnsafeMutableRawBufferPointer) throws(TransportError) -> Step {
        while true {
            let (wanted, peek) = nextRead()
            let room = UnsafeMutableRawBufferPointer(rebasing: scratch[..<min(wanted, scratch.count)])
            switch try transport.readBeforeHandshake(into: room, peek: peek) {
            case .wouldBlock(let interest):
                return .wouldBlock(interest)
            case .endOfStream:
                throw Self.rejected("the connection ended within the PROXY header, after \(consumed) bytes")
            case .bytes(let count):
                var taken = count
                if peek {
                    // v1: take through the CRLF if it is here (its CR may already be taken).
                    taken = Self.lengthThroughCRLF(UnsafeRawBufferPointer(rebasing: room[..<count]), afterCR: header.last == 0x0D) ?? count
                    try Self.take(taken, from: transport, into: room)
                }
                keep(UnsafeRawBufferPointer(rebasing: room[..<taken]))
                consumed += taken
                if let header = try parsed() {
                    client = header.source?.description
                    return .done
                }
            }
        }
    }

    /// How many bytes may be read now without passing the header's end, and whether they
    /// must only be peeked at (v1, whose end is known only once its CRLF is seen).
    private func nextRead() -> (Int, Bool) {
        switch version {
        case nil: return (ProxyHeaderParser.distinguishingLength - consumed, false)
        case 1: return (ProxyHeaderParser.v1MaximumLength - consumed, true)
        default: return ((v2Total ?? ProxyHeaderParser.v2FixedLength) - consumed, false)
        }
    }

    private mutating func keep(_ bytes: UnsafeRawBufferPointer) {
        let limit = version == 2 ? ProxyHeaderParser.v2FixedLength + ProxyHeaderParser.v2AddressBlockMaximum
                                 : ProxyHeaderParser.v1MaximumLength
        header.append(contentsOf: bytes.prefix(max(0, limit - header.count)))
    }

    /// The header, once all of it has been read; nil while more is needed.
    private mutating func parsed() throws(TransportError) -> ProxyHeader? {
        do throws(ProxyHeaderError) {
            if version == nil {
                version = try ProxyHeaderParser.version(of: header, accepting: accepting)
                if version == 2 { header.reserveCapacity(ProxyHeaderParser.v2FixedLength + ProxyHeaderParser.v2AddressBlockMaximum) }
            }
            switch version {
            case 1:
                if header.count >= 2, header[header.count - 2] == 0x0D, header.last == 0x0A {
                    return try ProxyHeaderParser.parseV1(header)
                }
                if consumed >= ProxyHeaderParser.v1MaximumLength {
                    throw ProxyHeaderError("v1 header longer than \(ProxyHeaderParser.v1MaximumLength) bytes without its CRLF")
                }
            case 2:
                if v2Total == nil, consumed >= ProxyHeaderParser.v2FixedLength {
                    v2Total = try ProxyHeaderParser.v2Length(header)
                }
                if let v2Total, consumed == v2Total {
                    return try ProxyHeaderParser.parseV2(header, total: v2Total)
                }
            default:
                break
            }
            return nil
        } catch {
            throw Self.rejected(error.reason)
        }
    }

    /// Where a peeked v1 run ends: just past its LF when a CRLF completes in it.
    private static func lengthThroughCRLF(_ bytes: UnsafeRawBufferPointer, afterCR: Bool) -> Int? {
        var previousIsCR = afterCR
        for (index, byte) in bytes.enumerated() {
            if byte == 0x0A && previousIsCR { return index + 1 }
            previousIsCR = byte == 0x0D
        }
        return nil
    }

    /// Consumes `count` bytes already peeked (they are in the socket's queue, so they come at once).
    private static func take(_ count: Int, from transport: any Transport, into room: UnsafeMutableRawBufferPointer) throws(TransportError) {
        var taken = 0
        while taken < count {
            switch try transport.readBeforeHandshake(into: UnsafeMutableRawBufferPointer(rebasing: room[taken..<count]), peek: false) {
            case .bytes(let n): taken += n
            case .wouldBlock, .endOfStream: throw rejected("peeked PROXY header bytes vanished from the socket")
            }
        }
    }

    private static func rejected(_ reason: String) -> TransportError {
        TransportError(.preambleRejected, "PROXY header: " + reason)
    }
}
