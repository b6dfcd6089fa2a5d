import CaseVaultCrypto
import Testing

/// MD5, SHA-1 and SHA-224 are written in Swift for checking other tools'
/// BagIt manifests. Known answers: RFC 1321 §A.5, FIPS 180-4's examples,
/// and Python's hashlib over messages that cross the 55/56/64-byte padding
/// edges and span several blocks (bytes i mod 251).
@Suite struct FixityDigestTests {
    @Test func knownAnswers() {
        let cases: [(FixityDigest, String, String)] = [
            (.md5, "", "d41d8cd98f00b204e9800998ecf8427e"),
            (.md5, "abc", "900150983cd24fb0d6963f7d28e17f72"),
            (.md5, "message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (.md5, "The quick brown fox jumps over the lazy dog", "9e107d9d372bb6826bd81d3542a419d6"),
            (.sha1, "", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
            (.sha1, "abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (.sha1, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
            (.sha224, "", "d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f"),
            (.sha224, "abc", "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"),
            (.sha256, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ]
        for (algorithm, message, expected) in cases {
            #expect(algorithm.hash(Array(message.utf8)).hexString == expected, "\(algorithm) of '\(message)'")
        }
    }

    @Test(arguments: [
        (55, "6912ee65fff2d9f9ce2508cddf8bcda0", "8ae2d46729cfe68ff927af5eec9c7d1b66d65ac2", "8991dfba74284e04dc7581c7c3e4068ff6cb7a63733361429834bb56"),
        (56, "51fdd1acda72405dfdfa03fcb85896d7", "636e2ec698dac903498e648bd2f3af641d3c88cb", "2b2cd637c16ad7290bb067ad7d8fd04e204fa43a84366afc7130f4ef"),
        (63, "48a6295221902e8e0938f773a7185e72", "6d942da0c4392b123528f2905c713a3ce28364bd", "049e8dd7eab3378ce9f823bfb569e5b270235d4b7f9623606971998f"),
        (64, "b2d3f56bc197fd985d5965079b5e7148", "c6138d514ffa2135bfce0ed0b8fac65669917ec7", "c37b88a3522dbf7ac30d1c68ea397ac11d4773571aed01ddab73531e"),
        (119, "1c772251899a7ff007400b888d6b2042", "41c89d06001bab4ab78736b44efe7ce18ce6ae08", "762f18c0df65c3d0ea64126c8a6e51db4425e76d4d969ed0f83899be"),
        (1000, "a24f1e3ef66950e1327f210e3997ba2c", "c9c960a0b925474fab83942cc27d504fc24ac37b", "c182669a7f6629dc7fd8a9198f15af15adbbaeffa1842e854f681357"),
    ])
    func paddingEdgesAndSeveralBlocks(_ length: Int, _ md5: String, _ sha1: String, _ sha224: String) {
        let message = (0..<length).map { UInt8($0 % 251) }
        #expect(FixityDigest.md5.hash(message).hexString == md5)
        #expect(FixityDigest.sha1.hash(message).hexString == sha1)
        #expect(FixityDigest.sha224.hash(message).hexString == sha224)
        #expect(FixityDigest.allCases.allSatisfy { $0.hash(message).count == $0.length })
    }
}
