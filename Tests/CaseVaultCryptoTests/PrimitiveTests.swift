@testable import CaseVaultCrypto
import Testing

@Suite struct PrimitiveTests {
    /// Released secure memory is kept for reuse, zeroed: a new secret of the
    /// same size class never starts with an old one's bytes, even one that
    /// filled its whole class. (Other tests allocate the same sizes at the
    /// same time, so a kept allocation is looked for over a few tries rather
    /// than expected at once.)
    @Test func reusedSecureMemoryStartsZeroed() {
        for (size, next) in [(32, 20), (64, 52), (1024, 1000), (2049, 4000), (SecretStream.chunkSize, 40_000)] {
            #expect(SecurePool.sizeClass(next) == SecurePool.sizeClass(size))
            var seenKept = false
            for _ in 0..<50 where !seenKept {
                do {
                    let secret = SecureBytes.random(count: SecurePool.sizeClass(size))
                    secret.withUnsafeMutableBytes { $0[0] = 0xa5; $0[$0.count - 1] = 0xa5 }
                }
                seenKept = SecurePool.waiting(size: SecurePool.sizeClass(size)) > 0
                let fresh = SecureBytes(count: next)
                #expect(fresh.count == next)
                #expect(fresh.withUnsafeBytes { $0.count == next && $0.allSatisfy { $0 == 0 } })
            }
            #expect(seenKept, "a released \(size)-byte secret is kept for reuse")
        }
        // Past 64 KiB nothing is kept.
        let large = SecretStream.chunkSize + 1
        #expect(SecurePool.sizeClass(large) == large)
        do { _ = SecureBytes.random(count: large) }
        #expect(SecurePool.waiting(size: large) == 0)
        #expect(SecurePool.sizeClass(0) == 32 && SecurePool.sizeClass(33) == 64 && SecurePool.sizeClass(4096) == 4096)
    }

    @Test func sealedBoxRoundTripsAndRefusesTheWrongKeyOrTampering() throws {
        let recipient = BoxKeyPair()
        let message = SecureBytes.random(count: 32)
        var sealed = SealedBox.seal(message, to: recipient.publicKey)
        #expect(sealed.count == 32 + SealedBox.overhead)
        #expect(try SealedBox.open(sealed, with: recipient).isEqual(to: message))
        #expect(throws: CryptoError.authenticationFailed) { _ = try SealedBox.open(sealed, with: BoxKeyPair()) }
        sealed[40] ^= 0x80
        #expect(throws: CryptoError.authenticationFailed) { _ = try SealedBox.open(sealed, with: recipient) }
        #expect(throws: CryptoError.authenticationFailed) { _ = try SealedBox.open(Array(sealed.prefix(47)), with: recipient) }
    }

    @Test func secretBoxRefusesTampering() throws {
        let key = SecureBytes.random(count: 32)
        let nonce = randomBytes(count: 24)
        var sealed = try SecretBox.seal(SecureBytes(copying: [1, 2, 3]), key: key, nonce: nonce)
        sealed[0] ^= 1
        #expect(throws: CryptoError.authenticationFailed) { _ = try SecretBox.open(sealed, key: key, nonce: nonce) }
    }

    @Test func signaturesFailOnAnyChange() throws {
        let pair = SigningKeyPair()
        let message = Array("event 1".utf8)
        var signature = pair.sign(message)
        #expect(pair.publicKey.isValidSignature(signature, for: message))
        #expect(!pair.publicKey.isValidSignature(signature, for: Array("event 2".utf8)))
        #expect(!SigningKeyPair().publicKey.isValidSignature(signature, for: message))
        #expect(!pair.publicKey.isValidSignature(Array(signature.prefix(63)), for: message))
        signature[10] ^= 4
        #expect(!pair.publicKey.isValidSignature(signature, for: message))
    }

    @Test func aSigningSecretKeyWithAnAlteredPublicHalfIsRefused() throws {
        let pair = SigningKeyPair()
        var bytes = pair.secretKey.bytesForTesting
        bytes[40] ^= 1
        #expect(throws: CryptoError.authenticationFailed) { _ = try SigningKeyPair(secretKey: SecureBytes(copying: bytes)) }
    }

    @Test func wrappedSecretsRoundTripAndFailClosed() throws {
        let secret = SecureBytes.random(count: 96)
        let passphrase = SecureBytes(copying: Array("a long enough passphrase".utf8))
        let blob = try WrappedSecret.wrap(secret, passphrase: passphrase, parameters: .insecureTestingOnly)
        #expect(blob.count == WrappedSecret.headerLength + 16 + 96)
        #expect(try WrappedSecret.parameters(of: blob) == .insecureTestingOnly)
        #expect(try WrappedSecret.unwrap(blob, passphrase: passphrase).isEqual(to: secret))

        #expect(throws: CryptoError.authenticationFailed) {
            _ = try WrappedSecret.unwrap(blob, passphrase: SecureBytes(copying: Array("a long enough passphrasE".utf8)))
        }
        for position in [21, 40, 61, blob.count - 1] {  // salt, nonce, tag, ciphertext
            var damaged = blob
            damaged[position] ^= 1
            #expect(throws: CryptoError.authenticationFailed) { _ = try WrappedSecret.unwrap(damaged, passphrase: passphrase) }
        }
        var opsRaised = blob
        opsRaised[5] = 2  // a different cost is a different key
        #expect(throws: CryptoError.authenticationFailed) { _ = try WrappedSecret.unwrap(opsRaised, passphrase: passphrase) }
        var hostile = blob
        hostile[20] = 0xff  // memlimit in the exabytes: refused before any allocation
        #expect(throws: CryptoError.self) { _ = try WrappedSecret.unwrap(hostile, passphrase: passphrase) }
        #expect(throws: CryptoError.self) { _ = try WrappedSecret.unwrap(Array(blob.prefix(70)), passphrase: passphrase) }
        var badMagic = blob
        badMagic[0] = 0
        #expect(throws: CryptoError.self) { _ = try WrappedSecret.unwrap(badMagic, passphrase: passphrase) }
    }

    @Test(arguments: [
        PasswordHashParameters(opsLimit: 0, memLimit: 8 << 10),    // below the minimum pass count
        PasswordHashParameters(opsLimit: 1, memLimit: 8 << 10 - 1),  // below the minimum memory
        PasswordHashParameters(opsLimit: 17, memLimit: 8 << 10),   // just past the pass bound
        PasswordHashParameters(opsLimit: 1, memLimit: (4 << 30) + 1),  // just past the memory bound
        PasswordHashParameters(opsLimit: 1, memLimit: 1 << 40),
    ])
    func argon2idParametersOutsideTheBoundsAreRefused(parameters: PasswordHashParameters) {
        #expect {
            _ = try PasswordHash.deriveKey(length: 32, passphrase: SecureBytes(copying: [1, 2, 3]),
                                           salt: randomBytes(count: 16), parameters: parameters)
        } throws: { error in
            if case CryptoError.unsupportedParameters = error { return true }
            return false
        }
    }

    @Test func argon2idSaltMustBe16Bytes() {
        let passphrase = SecureBytes(copying: [1, 2, 3])
        #expect(throws: CryptoError.invalidLength("Argon2id salt")) {
            _ = try PasswordHash.deriveKey(length: 32, passphrase: passphrase, salt: [1], parameters: .insecureTestingOnly)
        }
    }

    @Test func theDefaultIsModerateAndTheTestHookIsBelowTheInteractiveFloor() {
        #expect(PasswordHashParameters.moderate == PasswordHashParameters(opsLimit: 3, memLimit: 256 << 20))
        #expect(PasswordHashParameters.moderate.meetsInteractiveFloor)
        #expect(!PasswordHashParameters.insecureTestingOnly.meetsInteractiveFloor)
    }

    @Test func secureBytesWipeSliceAndCompare() {
        let secret = SecureBytes(copying: [1, 2, 3, 4, 5])
        #expect(secret.slice(1..<3).bytesForTesting == [2, 3])
        #expect(secret.isEqual(to: SecureBytes(copying: [1, 2, 3, 4, 5])))
        #expect(!secret.isEqual(to: SecureBytes(copying: [1, 2, 3, 4, 6])))
        #expect(!secret.isEqual(to: SecureBytes(copying: [1, 2, 3, 4])))
        secret.wipe()
        #expect(secret.bytesForTesting == [0, 0, 0, 0, 0])
        #expect(SecureBytes(count: 0).count == 0)
    }

    @Test func hexRoundTripsAndRejectsJunk() {
        #expect([UInt8](hexString: "00ff10Ab") == [0, 255, 16, 171])
        #expect([0, 255, 16, 171].hexString == "00ff10ab")
        #expect([UInt8](hexString: "abc") == nil)
        #expect([UInt8](hexString: "zz") == nil)
    }

    @Test func constantTimeEqualityComparesLengthsToo() {
        #expect(constantTimeEquals([1, 2], [1, 2]))
        #expect(!constantTimeEquals([1, 2], [1, 3]))
        #expect(!constantTimeEquals([1, 2], [1, 2, 3]))
        #expect(constantTimeEquals([UInt8](), [UInt8]()))
    }
}
