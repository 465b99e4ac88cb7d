// scripts/gen-certs.sh makes a chain that secure-echo serves and openssl verifies.
import Foundation
import Testing

private let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite("gen-certs.sh")
struct CertificateScriptTests {
    @Test("the generated chain verifies with s_client, and keys are private", arguments: [false, true])
    func generatedChain(rsa: Bool) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("certs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = repositoryRoot.appendingPathComponent("scripts/gen-certs.sh").path
        let made = try runCommand(script, (rsa ? ["--rsa"] : []) + ["--out", directory.path, "echo.test"])
        #expect(made.status == 0, "\(made.stderr)")

        for key in ["ca.key", "server.key", "client.key"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(key).path)
            #expect((attributes[.posixPermissions] as? Int) == 0o600, "\(key) must be mode 600")
        }

        let server = try ServerProcess([
            "--cert", directory.appendingPathComponent("server.pem").path,
            "--key", directory.appendingPathComponent("server.key").path,
        ])
        let client = try InteractiveProcess("/usr/bin/openssl", [
            "s_client", "-connect", "127.0.0.1:\(server.tlsPort)", "-quiet", "-no_ign_eof",
            "-CAfile", directory.appendingPathComponent("ca.pem").path,
            "-verify_return_error", "-verify_hostname", "localhost",
        ])
        client.write("verified\n")
        #expect(client.read(until: "verified\n") == "verified\n")
        _ = client.finish()

        let names = try runCommand("/usr/bin/openssl", ["x509", "-in", directory.appendingPathComponent("server.pem").path, "-noout", "-ext", "subjectAltName"])
        #expect(names.stdout.contains("DNS:localhost") && names.stdout.contains("IP Address:127.0.0.1")
                && names.stdout.contains("IP Address:0:0:0:0:0:0:0:1") && names.stdout.contains("DNS:echo.test"))
    }
}
