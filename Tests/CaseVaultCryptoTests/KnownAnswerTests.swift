import CaseVaultCrypto
import Foundation
import Testing

/// Known answers from PyNaCl: our wrappers must read what libsodium's
/// reference bindings wrote, and write the same deterministic bytes.
@Suite struct KnownAnswerTests {
    let vectors = Vectors.shared

    @Test func secretstreamDecryptsPyNaClStreams() throws {
        #expect(vectors.secretstream.count == 6)
        for v in vectors.secretstream {
            let plaintext = try decryptStream(Array(Data(base64Encoded: v.ciphertext)!),
                                              key: SecureBytes(copying: hex(v.key)), ad: hex(v.associatedData))
            #expect(plaintext.count == v.plaintextLength)
            #expect(SHA256.hash(plaintext).hexString == v.plaintextSHA256)
            #expect(plaintext == pattern(v.plaintextLength, seed: v.plaintextSeed))
        }
    }

    @Test func ourStreamsHaveTheSameShapeAsPyNaCls() throws {
        // Randomised headers make ciphertexts differ; lengths must not.
        for v in vectors.secretstream {
            let ours = try encryptStream(pattern(v.plaintextLength, seed: v.plaintextSeed),
                                         key: SecureBytes(copying: hex(v.key)), ad: hex(v.associatedData))
            #expect(ours.count == Data(base64Encoded: v.ciphertext)!.count)
            #expect(ours.count == SecretStream.ciphertextLength(forPlaintextLength: v.plaintextLength))
        }
    }

    @Test func sealedBoxOpensPyNaClBoxes() throws {
        for v in vectors.sealedBox {
            let pair = try BoxKeyPair(secretKey: SecureBytes(copying: hex(v.secretKey)))
            #expect(pair.publicKey.bytes == hex(v.publicKey))
            #expect(try SealedBox.open(hex(v.sealed), with: pair).bytesForTesting == hex(v.message))
        }
    }

    @Test func x25519PublicKeysDerive() throws {
        for v in vectors.x25519 {
            #expect(try BoxKeyPair(secretKey: SecureBytes(copying: hex(v.secretKey))).publicKey.bytes == hex(v.publicKey))
        }
    }

    @Test func secretBoxMatchesPyNaCl() throws {
        for v in vectors.secretBox {
            let key = SecureBytes(copying: hex(v.key))
            #expect(try SecretBox.seal(SecureBytes(copying: hex(v.message)), key: key, nonce: hex(v.nonce)) == hex(v.ciphertext))
            #expect(try SecretBox.open(hex(v.ciphertext), key: key, nonce: hex(v.nonce)).bytesForTesting == hex(v.message))
        }
    }

    @Test func argon2idMatchesPyNaCl() throws {
        for v in vectors.argon2id {
            let key = try PasswordHash.deriveKey(length: 32, passphrase: SecureBytes(copying: hex(v.passphrase)),
                                                 salt: hex(v.salt),
                                                 parameters: PasswordHashParameters(opsLimit: v.opsLimit, memLimit: v.memLimit))
            #expect(key.bytesForTesting == hex(v.key))
        }
    }

    @Test func ed25519MatchesPyNaCl() throws {
        for v in vectors.ed25519 {
            let pair = try SigningKeyPair(secretKey: SecureBytes(copying: hex(v.secretKey)))
            #expect(pair.publicKey.bytes == hex(v.publicKey))
            #expect(pair.sign(hex(v.message)) == hex(v.signature))
            #expect(pair.publicKey.isValidSignature(hex(v.signature), for: hex(v.message)))
        }
    }

    @Test func blake2bMatchesPyNaClOneShotAndStreaming() {
        for v in vectors.blake2b256 {
            let data = pattern(v.length, seed: v.seed)
            #expect(Blake2b.hash(data).hexString == v.digest)
            let streaming = Blake2b()
            var offset = 0
            while offset < data.count {
                let end = min(data.count, offset + 7_777)
                streaming.update(data[offset..<end])
                offset = end
            }
            #expect(streaming.finalize().hexString == v.digest)
        }
    }

    /// FIPS 180-2, appendix C: "abc", and the empty message.
    @Test func sha512MatchesTheStandardsVectors() {
        #expect(SHA512.hash(Array("abc".utf8)).hexString
                == "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f")
        #expect(SHA512.hash([UInt8]()).hexString
                == "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e")
    }

    @Test func sha256MatchesPython() {
        for v in vectors.sha256 {
            #expect(SHA256.hash(pattern(v.length, seed: v.seed)).hexString == v.digest)
        }
    }

    @Test func wrappedSecretWrittenFromTheSpecUnwraps() throws {
        for v in vectors.wrappedSecret {
            let secret = try WrappedSecret.unwrap(hex(v.blob), passphrase: SecureBytes(copying: hex(v.passphrase)))
            #expect(secret.bytesForTesting == hex(v.secret))
        }
    }
}
