internal import Foundation
internal import CaseVaultCrypto

/// How costly passphrase derivation is for a new vault (SECURITY.md
/// §5).
public enum KeyDerivationProfile: String, CaseIterable, Sendable {
    case interactive, moderate, sensitive

    var parameters: PasswordHashParameters {
        switch self {
        case .interactive: .interactive
        case .moderate: .moderate
        case .sensitive: .sensitive
        }
    }
}

/// `casevault.json`: the vault's identity and settings. Written once at
/// `init` (atomically) and read on every open. Its JSON Schema is
/// `Schemas/vault-config.schema.json`.
public struct VaultConfig: Codable, Sendable, Equatable {
    public static let formatName = "casevault-vault"
    /// The newest format this build writes; it reads every older one.
    /// 2: events sign the state map's root, blobs are stored by hash,
    /// wrapped keys carry an anchor (SECURITY.md §12a, §12b).
    /// 3: new objects are named by BLAKE3-256 instead of BLAKE2b-256
    /// (SECURITY.md §9, `ObjectNaming`); a vault keeps its format for good,
    /// so one of format 2 goes on naming by BLAKE2b, as an older casevault
    /// still reading it expects.
    public static let currentFormatVersion = 3
    /// What `init` makes: format 3, or format 2 (`init --vault-format 2`)
    /// for an office that must still send cases to vaults of format 2,
    /// which take no case from a vault of format 3 (SECURITY.md §15b).
    public static let creatableFormats = 2...currentFormatVersion
    public static let defaultCaseCategories = ["CP", "GBV", "PWSN", "UASC"]

    public struct KDF: Codable, Sendable, Equatable {
        public var algorithm: String
        public var opsLimit: UInt64
        public var memLimit: UInt64

        public init(algorithm: String, opsLimit: UInt64, memLimit: UInt64) {
            self.algorithm = algorithm
            self.opsLimit = opsLimit
            self.memLimit = memLimit
        }
    }

    public var format: String
    public var formatVersion: Int
    public var vaultId: String
    public var createdAt: String
    /// Argon2id parameters for passphrases set in this vault from now on.
    public var kdf: KDF
    /// True only for vaults made through the test hook; such a vault is
    /// unfit for real records and says so whenever it is opened.
    public var insecureTestingKDF: Bool
    /// Hex X25519 public key of the offline recovery key, if one was made.
    public var recoveryPublicKey: String?
    public var caseCategories: [String]
    /// Roles, beyond the case manager and supervisor, that hold the team
    /// tier of every case (design §3).
    public var teamTierRoles: [String]

    var passwordHashParameters: PasswordHashParameters {
        PasswordHashParameters(opsLimit: kdf.opsLimit, memLimit: kdf.memLimit)
    }

    /// The settings a `vault.created` event records, so the log binds the
    /// config that was in force when the vault got its first admin; and,
    /// since the report's tallies, that they are kept from the start.
    var vaultCreated: VaultCreated {
        VaultCreated(formatVersion: formatVersion, createdAt: createdAt, kdf: kdf,
                     insecureTestingKDF: insecureTestingKDF, recoveryPublicKey: recoveryPublicKey,
                     caseCategories: caseCategories, teamTierRoles: teamTierRoles, tallies: true)
    }

    /// Whether this config says what the signed settings say.
    func matches(_ settings: VaultSettingsRecord) -> Bool {
        settings.vaultId == vaultId && settings.formatVersion == formatVersion && settings.createdAt == createdAt
            && settings.kdf == kdf
            && settings.insecureTestingKDF == insecureTestingKDF && settings.recoveryPublicKey == recoveryPublicKey
            && settings.caseCategories == caseCategories && settings.teamTierRoles == teamTierRoles
    }

    /// A vault made without an admin has unsigned settings until its first
    /// admin signs them. This fingerprint, printed by `init`, lets that admin
    /// check they sign what `init` wrote (SECURITY.md §8): the first 16 bytes
    /// of SHA-256 over the canonical JSON of the `vault.created` data (without
    /// `tallies`) with the vault id, as 8 groups of 4 hex digits.
    public var settingsFingerprint: String {
        var members: [String: JSONValue] = [:]
        if case .object(let data)? = try? JSONValueEncoder().encode(vaultCreated) { members = data }
        // Not the config's: every casevault since catalog v21 signs it, and a
        // fingerprint printed by an older init must still match.
        members["tallies"] = nil
        members["vaultId"] = .string(vaultId)
        let digest = Array(SHA256.hash(JSONValue.object(members).canonicalBytes).prefix(16)).hexString
        return stride(from: 0, to: digest.count, by: 4).map { offset in
            let start = digest.index(digest.startIndex, offsetBy: offset)
            return String(digest[start..<digest.index(start, offsetBy: 4)])
        }.joined(separator: "-")
    }

    /// Decodes and checks a config file's bytes.
    static func decode(_ bytes: [UInt8], path: String) throws -> VaultConfig {
        struct Header: Decodable { var format: String?; var formatVersion: Int? }
        let data = Data(bytes)
        guard let header = try? JSONDecoder().decode(Header.self, from: data),
              header.format == formatName, let version = header.formatVersion else {
            throw VaultError.notAVault(path: path)
        }
        guard version <= currentFormatVersion else {
            throw VaultError.newerFormat(found: version, supported: currentFormatVersion)
        }
        guard version >= 1, let config = try? JSONDecoder().decode(VaultConfig.self, from: data),
              config.kdf.algorithm == "argon2id13" else {
            throw VaultError.integrityFailure("\(path)/\(Vault.configFileName) is damaged")
        }
        // The id names files outside the vault (the checkpoint of §12b):
        // only a lower-case UUID, never a path.
        guard let uuid = UUID(uuidString: config.vaultId), uuid.uuidString.lowercased() == config.vaultId else {
            throw VaultError.integrityFailure("\(path)/\(Vault.configFileName) has a vault id that is not a lower-case UUID")
        }
        return config
    }

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(self)) + [UInt8(ascii: "\n")]
    }
}
