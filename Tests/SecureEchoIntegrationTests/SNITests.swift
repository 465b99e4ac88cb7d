// Several certificates: chosen by SNI, of every key type people use.
import Foundation
import Testing

@Suite("SNI and certificate types")
struct SNITests {
    private func makeCertificate(_ name: String, _ keyOptions: [String], in directory: URL) throws -> [String] {
        let (cert, key) = try makeSelfSignedCertificate(name, keyOptions, in: directory)
        return ["--cert", cert, "--key", key]
    }

    @Test("RSA 2048/3072 and ECDSA P-256/P-384 all load; the SNI name picks the certificate, the first is the default")
    func sni() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sni-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let arguments = try makeCertificate("alpha.test", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], in: directory)
            + makeCertificate("beta.test", ["-newkey", "rsa:2048"], in: directory)
            + makeCertificate("gamma.test", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"], in: directory)
            + makeCertificate("delta.test", ["-newkey", "rsa:3072"], in: directory)
        let server = try ServerProcess(arguments)
        for name in ["alpha.test", "beta.test", "gamma.test", "delta.test"] {
            #expect(try servedSubject(port: server.tlsPort, serverName: name) == "subject=CN = \(name)")
            #expect(server.waitForLog("sni=\(name)"))
        }
        #expect(try servedSubject(port: server.tlsPort, serverName: "unknown.test") == "subject=CN = alpha.test")
        #expect(try servedSubject(port: server.tlsPort, serverName: nil) == "subject=CN = alpha.test")
        let echo = try sClient(port: server.tlsPort, ["-servername", "delta.test", "-quiet"], input: "rsa 3072\n", until: "rsa 3072\n")
        #expect(echo.contains("rsa 3072\n"))
    }

    @Test("--cert without a matching --key is bad usage")
    func unpaired() throws {
        let result = try runCommand(secureEchoBinary(), ["--cert", "a.pem", "--key", "a.key", "--cert", "b.pem"])
        #expect(result.status == 64)
    }
}

/// A self-signed certificate for `name` (CN and SAN) with the given key options, under `directory`.
func makeSelfSignedCertificate(_ name: String, _ keyOptions: [String] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
                               in directory: URL) throws -> (certificate: String, key: String) {
    let cert = directory.appendingPathComponent("\(name).pem").path
    let key = directory.appendingPathComponent("\(name).key").path
    let made = try runCommand("/usr/bin/openssl", ["req", "-x509", "-nodes", "-sha256", "-days", "2"] + keyOptions + [
        "-keyout", key, "-out", cert, "-subj", "/CN=\(name)", "-addext", "subjectAltName=DNS:\(name)",
    ])
    guard made.status == 0 else { throw SpawnError(what: made.stderr) }
    return (cert, key)
}

/// The subject line s_client prints for the certificate the server sends.
func servedSubject(port: UInt16, serverName: String?) throws -> String {
    let arguments = ["s_client", "-connect", "127.0.0.1:\(port)"] + (serverName.map { ["-servername", $0] } ?? ["-noservername"])
    let output = try runCommand("/usr/bin/openssl", arguments).stdout
    return output.split(separator: "\n").first { $0.hasPrefix("subject=") }.map(String.init) ?? "no subject in: \(output)"
}
