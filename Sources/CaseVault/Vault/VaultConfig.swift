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
    /// The newest format this build reads and writes.
    public static let currentFormatVersion = 1
    public static let defaultCaseCategories = ["CP", "GBV", "PWSN", "UASC"]

    public struct KDF: Codable, Sendable, Equatable {
        public var algorithm: String
        public var opsLimit: UInt64
        public var memLimit: UInt64
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
    /// config that was in force when the vault got its first admin.
    var eventData: [String: JSONValue] {
        [
            "formatVersion": .integer(Int64(formatVersion)),
            "createdAt": .string(createdAt),
            "kdf": .object(["algorithm": .string(kdf.algorithm), "opsLimit": .integer(Int64(kdf.opsLimit)),
                            "memLimit": .integer(Int64(kdf.memLimit))]),
            "insecureTestingKDF": .bool(insecureTestingKDF),
            "recoveryPublicKey": recoveryPublicKey.map(JSONValue.string) ?? .null,
            "caseCategories": .array(caseCategories.map(JSONValue.string)),
            "teamTierRoles": .array(teamTierRoles.map(JSONValue.string)),
        ]
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
        return config
    }

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(self)) + [UInt8(ascii: "\n")]
    }
}
