import ArgumentParser
import CaseVault
import CaseVaultSQLite
import Foundation

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a new vault.",
        discussion: """
            The vault's folder is given as everywhere else (--vault PATH, or $CASEVAULT_DIR), or as \
            the one argument; it must not exist, or be an empty folder. With --id and --name (as \
            `staff add` names a member; --admin-id and --admin-name are older spellings) the first \
            admin is created too; their passphrase comes from --new-passphrase-file or is asked \
            twice on the terminal. A vault made without an admin gets one with \
            'casevault staff add --role admin --settings-fingerprint FP' (no --as needed while the vault \
            has no staff), FP being the settings fingerprint printed here: the first admin signs the \
            vault's settings, and the fingerprint shows they are still the ones init wrote.

            --recovery-key-out writes the offline recovery key, which can open every case: \
            print it or keep it on removable media, away from the vault. It is never written \
            over an existing file or inside the vault.

            A vault is of format 3: its objects are named by BLAKE3, and it sends cases only to \
            vaults of format 3. --vault-format 2 makes one that names them by BLAKE2b, for an \
            office that must still send cases to vaults of format 2 (it takes cases only from \
            vaults of format 2 in turn). The format is signed and kept for good.
            """
    )

    @Argument(help: ArgumentHelp("Where to create the vault (or --vault PATH, or $CASEVAULT_DIR).", valueName: "path"))
    var pathArgument: String?

    @Option(name: .long, help: ArgumentHelp("Where to create the vault, as every command names the vault.", valueName: "path"))
    var vault: String?

    /// The folder: the argument, --vault, or $CASEVAULT_DIR.
    var path: String {
        get throws {
            if let given = pathArgument ?? vault { return given }
            if let environment = ProcessInfo.processInfo.environment["CASEVAULT_DIR"], !environment.isEmpty { return environment }
            throw CommandFailure(message: "no vault folder given", hint: "casevault init PATH, or --vault PATH, or set CASEVAULT_DIR",
                                 code: .usage)
        }
    }

    @Option(name: [.customLong("id"), .customLong("admin-id")], help: ArgumentHelp("Staff id of the first admin.", valueName: "id"))
    var adminID: String?

    @Option(name: [.customLong("name"), .customLong("admin-name")], help: ArgumentHelp("Full name of the first admin.", valueName: "name"))
    var adminName: String?

    @Option(help: ArgumentHelp("A file whose first line is the first admin's passphrase.", valueName: "file"))
    var newPassphraseFile: String?

    @Option(help: ArgumentHelp("Write the offline recovery key to this new file.", valueName: "file"))
    var recoveryKeyOut: String?

    @Option(help: ArgumentHelp("Cost of passphrase key derivation (Argon2id): interactive, moderate or sensitive.",
                               valueName: "profile"),
            transform: { try parseEnum(KeyDerivationProfile.self, $0) })
    var kdf: KeyDerivationProfile = .moderate

    @Option(help: ArgumentHelp("The vault's format: 3 (the default: objects named by BLAKE3), or 2 (BLAKE2b) for an office that must still send cases to vaults of format 2.",
                               valueName: "number"))
    var vaultFormat: Int = VaultConfig.currentFormatVersion

    func validate() throws {
        if !VaultConfig.creatableFormats.contains(vaultFormat) {
            throw ValidationError("--vault-format is 3 or 2, not \(vaultFormat)")
        }
        if (adminID == nil) != (adminName == nil) {
            throw ValidationError("--id and --name (the first admin's) go together")
        }
        if newPassphraseFile != nil && adminID == nil {
            throw ValidationError("--new-passphrase-file is the first admin's passphrase: give --id and --name too")
        }
        if let pathArgument, let vault, pathArgument != vault {
            throw ValidationError("the vault is given twice, as \(pathArgument) and --vault \(vault)")
        }
    }

    func run() throws {
        var options = Vault.CreationOptions()
        options.profile = kdf
        options.recoveryKeyPath = recoveryKeyOut
        options.formatVersion = vaultFormat
        // The explicit test hook (SECURITY.md §5).
        if ProcessInfo.processInfo.environment["CASEVAULT_INSECURE_TEST_KDF"] == "1" {
            options.insecureTestingKDF = true
            Output.warning("CASEVAULT_INSECURE_TEST_KDF=1: creating a vault with test-only key derivation")
        }
        if let adminID, let adminName {
            options.adminID = adminID
            options.adminName = adminName
            options.adminPassphrase = try newPassphrase(file: newPassphraseFile, for: adminID)
        }
        let vault = try Vault.create(at: try path, options: options, open: Vault.OpenOptions(checkpoints: CheckpointStore.userDefault()))
        print("Created vault \(vault.path)")
        print("  vault id:       \(vault.config.vaultId)")
        let memory = vault.config.kdf.memLimit >= 1 << 20
            ? "\(vault.config.kdf.memLimit >> 20) MiB" : "\(vault.config.kdf.memLimit >> 10) KiB"
        print("  key derivation: Argon2id, \(vault.config.kdf.opsLimit) passes, \(memory)")
        print("  format:         \(vault.config.formatVersion) (objects named by \(vault.config.formatVersion >= 3 ? "BLAKE3" : "BLAKE2b"))")
        if let adminID, let adminName {
            print("  admin:          \(adminID) (\(adminName))")
        } else {
            print("  admin:          none yet; add one with 'casevault staff add --role admin --settings-fingerprint \(vault.config.settingsFingerprint)'")
            print("  settings fingerprint: \(vault.config.settingsFingerprint) (keep it: the first admin checks it)")
        }
        if let recoveryKeyOut {
            print("  recovery key:   \(recoveryKeyOut) (move it offline now; it opens every case)")
        }
    }
}
