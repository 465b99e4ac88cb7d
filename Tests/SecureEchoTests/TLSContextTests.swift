import Testing
@testable import SecureEcho
@testable import SecureEchoLoop
@testable import SecureEchoSystem
@testable import SecureEchoTLS

@Suite("TLSContext")
struct TLSContextTests {
    @Test("the ephemeral certificate has a SHA-256 fingerprint")
    func ephemeral() throws {
        let context = try TLSContext.server(.init())
        let fingerprint = try #require(context.fingerprint)
        #expect(fingerprint.split(separator: ":").count == 32)
    }

    @Test("a missing certificate file is named in the error")
    func missingFile() {
        #expect {
            _ = try TLSContext.server(.init(certificate: .files(certificate: "/nonexistent/cert.pem", key: "/nonexistent/key.pem")))
        } throws: { error in
            "\(error)".contains("/nonexistent/cert.pem") && "\(error)".contains("No such file")
        }
    }
}
