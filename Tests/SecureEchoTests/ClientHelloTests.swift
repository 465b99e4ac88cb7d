import Testing
@testable import SecureEchoTLS

@Suite struct ClientHelloTests {
    @Test(arguments: clientHelloFixtures)
    func fingerprintsMatchOtherTools(_ fixture: ClientHelloFixture) throws {
        let hello = try ClientHello.reassembling(records: fixture.bytes)
        #expect(hello.ja3 == fixture.ja3)
        #expect(hello.ja3Hash == fixture.ja3Hash)
        #expect(hello.ja4 == fixture.ja4)
        #expect(hello.ja4Raw == fixture.ja4Raw)
        #expect(hello.records == 1)
    }

    @Test(arguments: clientHelloFixtures)
    func aHelloSplitOverRecordsGivesTheSameFingerprints(_ fixture: ClientHelloFixture) throws {
        let whole = fixture.bytes
        let message = Array(whole[5...])
        // Three records: the handshake header alone, then the body cut in two.
        let cut = 4 + (message.count - 4) / 2
        var records: [UInt8] = []
        for piece in [message[..<4], message[4..<cut], message[cut...]] {
            records += [22, whole[1], whole[2], UInt8(piece.count >> 8), UInt8(piece.count & 0xff)] + piece
        }
        let split = try ClientHello.reassembling(records: records)
        let one = try ClientHello.reassembling(records: whole)
        #expect(split.records == 3)
        #expect(split.ja4 == one.ja4 && split.ja3 == one.ja3 && split.ja4Raw == one.ja4Raw)
    }

    @Test func parsesWhatTheFingerprintsLeaveOut() throws {
        // Chrome's hello from FoxIO's tls-non-ascii-alpn capture: GREASE and a non-ASCII ALPN.
        let hello = try ClientHello.reassembling(records: clientHelloFixtures[0].bytes)
        #expect(hello.serverName == Array("clientservices.googleapis.com".utf8))
        #expect(hello.alpn == [[0xba, 0xad], Array("http/1.1".utf8)])
        #expect(hello.supportedVersions.contains(0x0304))
        #expect(hello.keyShareGroups.contains(0x001d))
        #expect(hello.highestOfferedVersion == 0x0304)
        #expect(hello.extensions.contains(where: TLSNames.isGREASE))
        #expect(hello.cipherSuites.first == 0xaaaa)
    }

    @Test func everyTruncationIsRefusedNotOverread() throws {
        let records = clientHelloFixtures[1].bytes
        let message = Array(records[5...])
        for length in 0..<message.count {
            let prefix = Array(message[..<length])
            #expect(throws: ClientHelloError.self) {
                try prefix.withUnsafeBytes { raw in try ClientHello(message: raw) }
            }
        }
        // A length that claims more than the message holds, at the outermost level.
        var longer = message
        longer[3] &+= 1
        #expect(throws: ClientHelloError.self) { try longer.withUnsafeBytes { try ClientHello(message: $0) } }
        #expect(throws: ClientHelloError.notClientHello) { try [2, 0, 0, 0].withUnsafeBytes { try ClientHello(message: $0) } }
    }

    @Test func everyFlippedByteParsesOrThrows() throws {
        let message = Array(clientHelloFixtures[4].bytes[5...])
        for index in message.indices {
            var damaged = message
            damaged[index] ^= 0xff
            _ = try? damaged.withUnsafeBytes { try ClientHello(message: $0) }
        }
    }

    // MARK: - JA4 rules from FoxIO's technical details

    private func hello(alpn: [[UInt8]] = [], ciphers: [UInt16] = [0x1301], extensions: [UInt16] = [0x000a],
                       algorithms: [UInt16] = [], versions: [UInt16] = [], legacy: UInt16 = 0x0303) -> ClientHello {
        var hello = ClientHello()
        hello.legacyVersion = legacy
        hello.alpn = alpn
        hello.cipherSuites = ciphers
        hello.extensions = extensions
        hello.signatureAlgorithms = algorithms
        hello.supportedVersions = versions
        return hello
    }

    @Test(arguments: [
        ([UInt8]([0xab]), "ab"), ([0x20], "20"), ([0xab, 0xcd], "ad"), ([0x20, 0x61], "21"), ([0x30, 0xab], "3b"),
        ([0x61, 0x20], "60"), ([0x30, 0x31, 0xab, 0xcd], "3d"), ([0x30, 0xab, 0xcd, 0x31], "01"),
        (Array("h2".utf8), "h2"), (Array("http/1.1".utf8), "h1"), (Array("h".utf8), "hh"), ([], "00"),
    ])
    func alpnCharacters(_ first: [UInt8], _ expected: String) {
        let prefix = hello(alpn: [first, Array("h2".utf8)]).ja4.prefix(10)
        #expect(prefix.suffix(2) == Substring(expected))
    }

    @Test func noALPNAndNoSNI() {
        #expect(hello().ja4.hasPrefix("t12i010100_"))
        #expect(hello(extensions: [0x0000, 0x0010, 0x000a]).ja4.hasPrefix("t12d010300_"))
    }

    @Test func versionFromSupportedVersionsIgnoringGREASE() {
        #expect(hello(versions: [0x7a7a, 0x0304, 0x0303]).ja4.hasPrefix("t13"))
        #expect(hello(versions: [0x0302, 0x0301]).ja4.hasPrefix("t11"))
        #expect(hello(legacy: 0x0301).ja4.hasPrefix("t10"))
        #expect(hello(legacy: 0x0300).ja4.hasPrefix("ts3"))
        #expect(hello(legacy: 0x1234).ja4.hasPrefix("t00"))
    }

    @Test func countsCapAt99AndSkipGREASE() {
        let many = (1...120).map { UInt16($0) }
        #expect(hello(ciphers: many + [0x0a0a], extensions: many + [0x1a1a]).ja4.hasPrefix("t12i9999"))
        #expect(hello(ciphers: [0x0a0a, 0x1301], extensions: [0x2a2a]).ja4.hasPrefix("t12i0100"))
    }

    @Test func emptyListsHashToZeros() {
        // No ciphers, and only SNI and ALPN among the extensions: both hashes are twelve zeros.
        let fingerprint = hello(ciphers: [], extensions: [0x0000, 0x0010]).ja4
        #expect(fingerprint.hasSuffix("_000000000000_000000000000"))
    }

    @Test func theSpecificationsWorkedExample() {
        // The hello of FoxIO's JA4 example section, by its lists.
        let example = hello(
            alpn: [Array("h2".utf8)],
            ciphers: [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c,
                      0x009d, 0x002f, 0x0035],
            extensions: [0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b,
                         0xff01, 0x000b, 0x000a, 0x0015],
            algorithms: [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601],
            versions: [0x0304, 0x0303])
        #expect(example.ja4 == "t13d1516h2_8daaf6152771_e5627efa2ab1")
        // Without signature algorithms the extension list is hashed alone, with no underscore.
        var bare = example
        bare.signatureAlgorithms = []
        #expect(bare.ja4.hasSuffix("_6d807ffa2a79"))
    }

    @Test func ja3OfAHelloWithoutExtensions() {
        #expect(hello(ciphers: [4, 5, 10], extensions: [], legacy: 0x0301).ja3 == "769,4-5-10,,,")
    }

    // MARK: - Names

    @Test func namesForPeople() {
        #expect(TLSNames.cipher(0x1301) == "TLS_AES_128_GCM_SHA256")
        #expect(TLSNames.cipher(0xc02f) == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
        #expect(TLSNames.cipher(0x00ff) == "TLS_EMPTY_RENEGOTIATION_INFO_SCSV")
        #expect(TLSNames.cipher(0x0a0a) == "GREASE(0x0a0a)")
        #expect(TLSNames.cipher(0xfe99) == "0xfe99")
        #expect(TLSNames.group(29) == "x25519" && TLSNames.group(4588) == "X25519MLKEM768" && TLSNames.group(22) == "secp256k1")
        #expect(TLSNames.signatureAlgorithm(0x0804) == "rsa_pss_rsae_sha256")
        #expect(TLSNames.extensionType(0xff01) == "renegotiation_info" && TLSNames.extensionType(0xfafa) == "GREASE(0xfafa)")
        #expect(TLSNames.version(0x0302) == "TLSv1.1")
        #expect(TLSNames.isGREASE(0xdada) && !TLSNames.isGREASE(0x0a1a) && !TLSNames.isGREASE(0x1a0a))
    }
}
