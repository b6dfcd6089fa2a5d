internal import CSodium

/// Argon2id (v1.3) cost parameters, stored beside every key they wrap so a
/// vault can raise its defaults later without stranding old keys.
public struct PasswordHashParameters: Hashable, Sendable, Codable {
    /// Number of passes (`crypto_pwhash` opslimit).
    public var opsLimit: UInt64
    /// Memory in bytes (`crypto_pwhash` memlimit).
    public var memLimit: UInt64

    public init(opsLimit: UInt64, memLimit: UInt64) {
        self.opsLimit = opsLimit
        self.memLimit = memLimit
    }

    /// libsodium's INTERACTIVE: 2 passes, 64 MiB.
    public static let interactive = PasswordHashParameters(opsLimit: 2, memLimit: 64 << 20)
    /// libsodium's MODERATE: 3 passes, 256 MiB. The default for new vaults.
    public static let moderate = PasswordHashParameters(opsLimit: 3, memLimit: 256 << 20)
    /// libsodium's SENSITIVE: 4 passes, 1 GiB.
    public static let sensitive = PasswordHashParameters(opsLimit: 4, memLimit: 1 << 30)

    /// The explicit test hook (style rule 9): Argon2id's minimum cost, so a
    /// test suite can unlock hundreds of identities. Never a default; a vault
    /// created with it is marked as such in its config and warns on every open.
    public static let insecureTestingOnly = PasswordHashParameters(opsLimit: 1, memLimit: 8 << 10)

    /// Upper bounds accepted when reading a wrapped key, so a tampered header
    /// cannot make an unlock allocate unbounded memory or run for hours.
    public static let maximum = PasswordHashParameters(opsLimit: 16, memLimit: 4 << 30)

    /// True when these parameters are at least libsodium's INTERACTIVE cost.
    public var meetsInteractiveFloor: Bool {
        opsLimit >= Self.interactive.opsLimit && memLimit >= Self.interactive.memLimit
    }

    func validate() throws {
        guard opsLimit >= UInt64(crypto_pwhash_opslimit_min()), memLimit >= UInt64(crypto_pwhash_memlimit_min()) else {
            throw CryptoError.unsupportedParameters("Argon2id parameters below the library minimum")
        }
        guard opsLimit <= Self.maximum.opsLimit, memLimit <= Self.maximum.memLimit else {
            throw CryptoError.unsupportedParameters("Argon2id parameters above the accepted maximum (16 passes, 4 GiB)")
        }
    }
}

/// Argon2id key derivation (`crypto_pwhash`, `crypto_pwhash_ALG_ARGON2ID13`).
public enum PasswordHash {
    public static let saltLength = 16
    public static let algorithmIdentifier: UInt8 = 2  // crypto_pwhash_ALG_ARGON2ID13

    public static func deriveKey(length: Int, passphrase: SecureBytes, salt: [UInt8],
                                 parameters: PasswordHashParameters) throws -> SecureBytes {
        Sodium.ensureInitialized()
        guard salt.count == saltLength else { throw CryptoError.invalidLength("Argon2id salt") }
        try parameters.validate()
        let key = SecureBytes(count: length)
        let rc = key.withUnsafeMutableBytes { k in
            passphrase.withUnsafeBytes { p in
                salt.withUnsafeBytes { s in
                    p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { pw in
                        crypto_pwhash(k.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(k.count),
                                      pw, UInt64(p.count),
                                      s.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                      parameters.opsLimit, Int(parameters.memLimit),
                                      crypto_pwhash_ALG_ARGON2ID13)
                    }
                }
            }
        }
        // crypto_pwhash fails only when it cannot allocate its memory limit.
        guard rc == 0 else { throw CryptoError.outOfMemory }
        return key
    }
}
