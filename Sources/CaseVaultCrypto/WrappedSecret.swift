/// A secret wrapped under a passphrase: Argon2id derives a 32-byte key that
/// seals the secret with `crypto_secretbox` (SECURITY.md §4).
///
/// Byte layout, all integers little-endian:
///
///     offset  size  field
///          0     4  magic: "CVW1" (the plaintext is keys) or "CVW2" (keys
///                   followed by the anchor the caller seals with them)
///          4     1  KDF algorithm, 0x02 = Argon2id v1.3
///          5     8  opslimit (u64)
///         13     8  memlimit in bytes (u64)
///         21    16  salt
///         37    24  secretbox nonce
///         61  16+n  crypto_secretbox_easy output: Poly1305 tag, then ciphertext
///
/// The parameters travel with the blob so old wrappings keep opening after a
/// vault raises its defaults; they are bounds-checked before use so a
/// tampered header cannot exhaust memory. Tampering with them otherwise
/// only yields a different key, hence `authenticationFailed`.
public enum WrappedSecret {
    public static let magic: [UInt8] = Array("CVW1".utf8)
    public static let anchoredMagic: [UInt8] = Array("CVW2".utf8)
    public static let headerLength = 61

    public static func wrap(_ secret: SecureBytes, passphrase: SecureBytes,
                            parameters: PasswordHashParameters, magic: [UInt8] = magic) throws -> [UInt8] {
        precondition(magic == Self.magic || magic == anchoredMagic)
        let salt = randomBytes(count: PasswordHash.saltLength)
        let nonce = randomBytes(count: SecretBox.nonceLength)
        let key = try PasswordHash.deriveKey(length: SecretBox.keyLength, passphrase: passphrase,
                                             salt: salt, parameters: parameters)
        var blob = magic
        blob.append(PasswordHash.algorithmIdentifier)
        blob.append(contentsOf: littleEndianBytes(parameters.opsLimit))
        blob.append(contentsOf: littleEndianBytes(parameters.memLimit))
        blob.append(contentsOf: salt)
        blob.append(contentsOf: nonce)
        blob.append(contentsOf: try SecretBox.seal(secret, key: key, nonce: nonce))
        return blob
    }

    /// The parameters a blob was wrapped with, without unwrapping it.
    public static func parameters(of blob: [UInt8]) throws -> PasswordHashParameters {
        guard blob.count >= headerLength + SecretBox.macLength,
              Array(blob[0..<4]) == magic || Array(blob[0..<4]) == anchoredMagic,
              blob[4] == PasswordHash.algorithmIdentifier else {
            throw CryptoError.invalidLength("wrapped secret header")
        }
        return PasswordHashParameters(opsLimit: readLittleEndian(blob[5..<13]),
                                      memLimit: readLittleEndian(blob[13..<21]))
    }

    /// The blob's magic: `magic` or `anchoredMagic`.
    public static func format(of blob: [UInt8]) throws -> [UInt8] {
        _ = try parameters(of: blob)
        return Array(blob[0..<4])
    }

    public static func unwrap(_ blob: [UInt8], passphrase: SecureBytes) throws -> SecureBytes {
        let parameters = try parameters(of: blob)
        let salt = Array(blob[21..<37])
        let nonce = Array(blob[37..<61])
        let key = try PasswordHash.deriveKey(length: SecretBox.keyLength, passphrase: passphrase,
                                             salt: salt, parameters: parameters)
        return try SecretBox.open(blob[61...], key: key, nonce: nonce)
    }
}

func littleEndianBytes(_ value: UInt64) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
}

func readLittleEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 {
    bytes.reversed().reduce(0) { ($0 << 8) | UInt64($1) }
}
