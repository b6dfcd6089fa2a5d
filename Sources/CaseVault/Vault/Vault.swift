public import Foundation
internal import CaseVaultCrypto

/// An open vault: its config, its catalog and its object store.
///
/// On disk (SECURITY.md §8):
///
///     PATH/casevault.json     config, written once at init
///     PATH/catalog.sqlite     catalog (plus -wal and -shm while open)
///     PATH/objects/xx/<hash>  encrypted objects
public final class Vault: Sendable {
    public static let configFileName = "casevault.json"
    public static let catalogFileName = "catalog.sqlite"
    public static let objectsFolderName = "objects"

    public let path: String
    public let config: VaultConfig
    let catalog: Catalog
    let objects: FileObjectStore

    private init(path: String, config: VaultConfig, catalog: Catalog) {
        self.path = path
        self.config = config
        self.catalog = catalog
        self.objects = FileObjectStore(root: path + "/" + Self.objectsFolderName)
    }

    /// Opens an existing vault.
    public static func open(at path: String) throws -> Vault {
        let path = FileSystem.absolutePath(path)
        guard FileSystem.isDirectory(path) else {
            if FileSystem.exists(path) { throw VaultError.notAVault(path: path) }
            throw VaultError.notFound("no vault at \(path)")
        }
        let configPath = path + "/" + configFileName
        guard FileSystem.isRegularFile(configPath) else { throw VaultError.notAVault(path: path) }
        let bytes = try FileSystem.openForReading(configPath).readAll(limit: 1 << 20)
        let config = try VaultConfig.decode(bytes, path: path)
        let catalogPath = path + "/" + catalogFileName
        guard FileSystem.isRegularFile(catalogPath), FileSystem.isDirectory(path + "/" + objectsFolderName) else {
            throw VaultError.integrityFailure("\(path) is missing its catalog or objects folder")
        }
        let vault = Vault(path: path, config: config, catalog: try Catalog(path: catalogPath))
        try vault.checkConfigAgainstLog()
        return vault
    }

    /// `casevault.json` decides the recovery key, the team-tier roles and the
    /// cost of new passphrases, so an edited config must not be taken at its
    /// word (SECURITY.md §8). Two checks on every open:
    /// key derivation below libsodium's INTERACTIVE cost is refused unless
    /// the vault is marked as a test vault; and once the first admin exists,
    /// the config must equal the settings their signed `vault.created`
    /// event recorded.
    func checkConfigAgainstLog() throws {
        if !config.insecureTestingKDF && !config.passwordHashParameters.meetsInteractiveFloor {
            throw VaultError.integrityFailure("casevault.json asks for key derivation below the interactive minimum")
        }
        guard let event = try vaultCreatedEvent() else { return }
        guard
              event["vault"]?.stringValue == config.vaultId,
              event["data"] == .object(config.eventData) else {
            throw VaultError.integrityFailure("casevault.json differs from the settings recorded when the vault was created")
        }
    }

    /// What `init` should set up besides the empty vault.
    public struct CreationOptions {
        public var profile: KeyDerivationProfile = .moderate
        /// The explicit test hook (SECURITY.md §5):
        /// Argon2id at its minimum cost, recorded in the config.
        public var insecureTestingKDF = false
        public var adminID: String?
        public var adminName: String?
        public var adminPassphrase: Passphrase?
        /// Where to write the offline recovery key; nil for none.
        public var recoveryKeyPath: String?
        public var caseCategories = VaultConfig.defaultCaseCategories

        public init() {}
    }

    /// Creates a vault at `path`, which must not exist or be an empty
    /// folder. Everything is built in a hidden staging folder beside
    /// `path` and renamed into place only when complete, so a failure
    /// leaves nothing behind; the recovery key file, if asked for, is
    /// published (without overwriting) just before that rename.
    public static func create(at path: String, options: CreationOptions, now: Date = Date()) throws -> Vault {
        let path = FileSystem.absolutePath(path)
        let parent = AtomicFile.parentFolder(of: path)
        guard FileSystem.isDirectory(parent) else {
            throw VaultError.notFound("folder \(parent) does not exist")
        }
        if FileSystem.exists(path) {
            guard FileSystem.isDirectory(path), (try FileSystem.listDirectory(path)).isEmpty else {
                throw VaultError.alreadyExists("\(path) already exists and is not an empty folder")
            }
        }
        let recoveryPath = options.recoveryKeyPath.map(FileSystem.absolutePath)
        if let recoveryPath {
            try RecoveryKey.checkDestination(recoveryPath, vaultPath: path)
        }
        if options.adminID != nil || options.adminName != nil || options.adminPassphrase != nil {
            guard let id = options.adminID, let name = options.adminName, let passphrase = options.adminPassphrase else {
                throw VaultError.invalidInput("an admin needs an id, a name and a passphrase")
            }
            try StaffMember.validate(id: id)
            try StaffMember.validate(name: name)
            try passphrase.validateAsNew()
        }

        let vaultID = UUID().uuidString.lowercased()
        let recovery = recoveryPath == nil ? nil : BoxKeyPair()
        let parameters: PasswordHashParameters = options.insecureTestingKDF ? .insecureTestingOnly : options.profile.parameters
        let config = VaultConfig(
            format: VaultConfig.formatName,
            formatVersion: VaultConfig.currentFormatVersion,
            vaultId: vaultID,
            createdAt: Timestamp.string(from: now),
            kdf: .init(algorithm: "argon2id13", opsLimit: parameters.opsLimit, memLimit: parameters.memLimit),
            insecureTestingKDF: options.insecureTestingKDF,
            recoveryPublicKey: recovery?.publicKey.bytes.hexString,
            caseCategories: options.caseCategories,
            teamTierRoles: [Role.projectDirector.rawValue]
        )

        let staging = parent + "/.casevault-init-" + randomBytes(count: 8).hexString
        try FileSystem.makeDirectory(staging)
        var publishedRecovery = false
        do {
            try FileSystem.makeDirectory(staging + "/" + objectsFolderName)
            // Created first with mode 0600 so SQLite (and its -wal and -shm
            // files, which copy the mode) never exist readable by others.
            try FileSystem.createExclusive(staging + "/" + catalogFileName, mode: 0o600).closeNow()
            let catalog = try Catalog(path: staging + "/" + catalogFileName)
            let staged = Vault(path: staging, config: config, catalog: catalog)
            if let id = options.adminID, let name = options.adminName, let passphrase = options.adminPassphrase {
                _ = try staged.addStaff(id: id, name: name, role: .admin, passphrase: passphrase, by: nil, now: now)
            }
            try catalog.close()
            try AtomicFile.write(to: staging + "/" + configFileName, replacing: false, mode: 0o600) {
                try $0.write(try config.encoded())
            }
            try FileSystem.syncDirectory(staging)
            if let recovery, let recoveryPath {
                try RecoveryKey.write(recovery, vaultID: vaultID, createdAt: now, to: recoveryPath)
                publishedRecovery = true
            }
            // rename(2) replaces an empty folder atomically and refuses a
            // non-empty one, so a folder filled meanwhile is not clobbered.
            try FileSystem.rename(staging, to: path)
        } catch {
            FileSystem.removeTree(staging)
            if publishedRecovery, let recoveryPath { FileSystem.remove(recoveryPath) }
            throw error
        }
        // From here the vault exists and its recovery key matches it: a
        // failure to sync the parent folder is reported, but nothing is undone.
        try FileSystem.syncDirectory(parent)
        return try open(at: path)
    }

    /// Whether this vault was made through the test hook.
    public var usesInsecureTestingKDF: Bool { config.insecureTestingKDF }
}

/// Timestamps are RFC 3339 in UTC with seconds, e.g. 2026-11-23T17:30:00Z.
enum Timestamp {
    static func string(from date: Date) -> String {
        date.formatted(.iso8601)
    }

    static func date(from string: String) -> Date? {
        try? Date(string, strategy: .iso8601)
    }
}
