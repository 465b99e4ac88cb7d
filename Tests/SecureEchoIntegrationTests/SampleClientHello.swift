// A real ClientHello, produced by the library's client session over a BIO pair.
import COpenSSL
@testable import SecureEcho
@testable import SecureEchoLoop
@testable import SecureEchoSystem
@testable import SecureEchoTLS

enum SampleClientHello {
    static func capture() throws -> [UInt8] {
        var clientBIO: OpaquePointer?
        var peerBIO: OpaquePointer?
        guard BIO_new_bio_pair(&clientBIO, 0, &peerBIO, 0) == 1, let clientBIO, let peerBIO else {
            throw OpenSSLError.drain("BIO_new_bio_pair")
        }
        defer { BIO_free(peerBIO) }
        let client = try TLSSession(context: try TLSContext.client(), bio: clientBIO)
        _ = try client.handshake()  // writes the ClientHello, then waits for the server
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = BIO_read(peerBIO, &bytes, Int32(bytes.count))
        return Array(bytes.prefix(Int(max(count, 0))))
    }
}
