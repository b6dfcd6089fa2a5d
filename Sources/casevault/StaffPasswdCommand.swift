import ArgumentParser
import CaseVault

struct StaffPasswdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passwd",
        abstract: "Change your own passphrase.",
        discussion: """
            Unlocks your keys with the current passphrase (--passphrase-file, \
            CASEVAULT_PASSPHRASE_FILE or a prompt) and wraps them again under the new one \
            (--new-passphrase-file or asked twice). Nobody else, an admin included, can reset \
            it: a forgotten passphrase means an admin adds you again under a new id and your \
            cases are re-granted.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Option(help: ArgumentHelp("A file whose first line is the new passphrase.", valueName: "file"))
    var newPassphraseFile: String?

    func run() throws {
        try vaultOptions.withUnlocked(agent: false) { vault, identity in
            let passphrase = try newPassphrase(file: newPassphraseFile, for: identity.id)
            try vault.changePassphrase(of: identity, to: passphrase)
            print("Passphrase changed for '\(identity.id)'.")
        }
    }
}
