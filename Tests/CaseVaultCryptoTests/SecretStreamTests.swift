import CaseVaultCrypto
import Foundation
import Testing

/// Round trips at the sizes around the chunk boundary, and every way a
/// stream can be damaged: each must be the one `authenticationFailed`.
@Suite struct SecretStreamTests {
    let key = SecretStream.generateKey()
    let ad = Array("vault|case|doc|v1".utf8)
    static let chunk = SecretStream.chunkSize
    static let cipherChunk = SecretStream.cipherChunkSize
    static let header = SecretStream.headerLength

    @Test(arguments: [0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 10 << 20])
    func roundTrip(size: Int) throws {
        let plaintext = pattern(size, seed: 3)
        let ciphertext = try encryptStream(plaintext, key: key, ad: ad)
        #expect(ciphertext.count == SecretStream.ciphertextLength(forPlaintextLength: size))
        #expect(try decryptStream(ciphertext, key: key, ad: ad) == plaintext)
    }

    @Test func shortReadsOnBothSidesStillRoundTrip() throws {
        let plaintext = pattern(3 * Self.chunk + 11, seed: 5)
        let ciphertext = try encryptStream(plaintext, key: key, ad: ad, step: 1_000)
        #expect(try decryptStream(ciphertext, key: key, ad: ad, step: 999) == plaintext)
    }

    @Test func everyEncryptionUsesAFreshHeader() throws {
        let a = try encryptStream([1, 2, 3], key: key, ad: ad)
        let b = try encryptStream([1, 2, 3], key: key, ad: ad)
        #expect(a != b)
    }

    private func expectAuthenticationFailure(_ ciphertext: [UInt8], key: SecureBytes? = nil, ad: [UInt8]? = nil,
                                             sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: CryptoError.authenticationFailed, sourceLocation: sourceLocation) {
            _ = try decryptStream(ciphertext, key: key ?? self.key, ad: ad ?? self.ad)
        }
    }

    private func threeChunkStream() throws -> [UInt8] {
        try encryptStream(pattern(2 * Self.chunk + 100, seed: 1), key: key, ad: ad)
    }

    @Test func truncatedStreamsFail() throws {
        let stream = try threeChunkStream()
        expectAuthenticationFailure([])
        expectAuthenticationFailure(Array(stream[0..<10]))                       // inside the header
        expectAuthenticationFailure(Array(stream[0..<Self.header]))              // header only
        expectAuthenticationFailure(Array(stream[0..<(Self.header + Self.cipherChunk)]))      // cut at a chunk boundary
        expectAuthenticationFailure(Array(stream[0..<(Self.header + 2 * Self.cipherChunk)]))  // final chunk dropped
        expectAuthenticationFailure(Array(stream.dropLast(1)))                   // last byte missing
        expectAuthenticationFailure(Array(stream.dropLast(117)))                 // final chunk partial
    }

    @Test func missingFinalTagFails() throws {
        // A stream whose every chunk is tagged MESSAGE: authentic chunks, but
        // no end. It must not pass as complete.
        let encryptor = try SecretStreamEncryptor(key: key)
        var stream = encryptor.header
        var out = [UInt8](repeating: 0, count: 100 + SecretStream.overhead)
        let n = try pattern(100).withUnsafeBytes { p in
            try out.withUnsafeMutableBytes { try encryptor.push(p, associatedData: ad, isFinal: false, into: $0) }
        }
        stream += out[0..<n]
        expectAuthenticationFailure(stream)
    }

    @Test func reorderedAndDuplicatedChunksFail() throws {
        let stream = try threeChunkStream()
        let h = Self.header, c = Self.cipherChunk
        let header = Array(stream[0..<h])
        let first = Array(stream[h..<(h + c)])
        let second = Array(stream[(h + c)..<(h + 2 * c)])
        let last = Array(stream[(h + 2 * c)...])
        expectAuthenticationFailure(header + second + first + last)
        expectAuthenticationFailure(header + first + first + second + last)
        expectAuthenticationFailure(header + first + last)  // middle chunk removed
    }

    @Test func trailingBytesFail() throws {
        let stream = try threeChunkStream()
        expectAuthenticationFailure(stream + [0])
        let empty = try encryptStream([], key: key, ad: ad)
        expectAuthenticationFailure(empty + empty)
    }

    @Test func flippedBitsInHeaderBodyAndTagFail() throws {
        let stream = try threeChunkStream()
        let positions = [
            0, Self.header - 1,                              // header
            Self.header,                                     // first chunk's encrypted tag byte
            Self.header + 1 + 500,                           // first chunk's body
            Self.header + Self.cipherChunk - 1,              // first chunk's MAC
            stream.count - 1,                                // final chunk's MAC
            stream.count - 20,                               // final chunk's body
        ]
        for position in positions {
            var damaged = stream
            damaged[position] ^= 0x01
            expectAuthenticationFailure(damaged)
        }
    }

    @Test func wrongKeyAndWrongAssociatedDataFail() throws {
        let stream = try threeChunkStream()
        expectAuthenticationFailure(stream, key: SecretStream.generateKey())
        expectAuthenticationFailure(stream, ad: Array("vault|case|doc|v2".utf8))
        expectAuthenticationFailure(stream, ad: [])
    }

    @Test func chunksFromAnotherStreamOfTheSameKeyFail() throws {
        let a = try threeChunkStream()
        let b = try threeChunkStream()
        let h = Self.header
        expectAuthenticationFailure(Array(a[0..<h]) + Array(b[h...]))
    }

    @Test func aFailingReadIsAnErrorNotTheEndOfInput() throws {
        var calls = 0
        #expect(throws: CryptoError.inputFailed) {
            try SecretStream.encrypt(key: key, associatedData: ad, read: { buffer in
                calls += 1
                if calls == 1 { buffer[0] = 42; return 1 }
                return -1
            }, write: { _ in })
        }
    }

    @Test func foreignTagsAreRefused() throws {
        // PyNaCl streams whose middle chunk carries TAG_PUSH or TAG_REKEY:
        // authentic, but not something casevault writes.
        for vector in Vectors.shared.foreignTags {
            let ciphertext = Array(Data(base64Encoded: vector.ciphertext)!)
            #expect(throws: CryptoError.authenticationFailed, "\(vector.tag)") {
                _ = try decryptStream(ciphertext, key: SecureBytes(copying: hex(vector.key)), ad: hex(vector.associatedData))
            }
        }
        #expect(Vectors.shared.foreignTags.map(\.tag) == ["push", "rekey"])
    }

    @Test func keysOfTheWrongLengthAreRefused() {
        #expect(throws: CryptoError.invalidLength("secretstream key")) {
            _ = try SecretStreamEncryptor(key: SecureBytes(count: 31))
        }
    }
}
