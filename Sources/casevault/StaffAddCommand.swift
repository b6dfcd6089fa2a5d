import ArgumentParser
import CaseVault

struct StaffAddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add a staff member (admins only).",
        discussion: """
            Creates the member's key pairs and wraps them under their first passphrase, read from \
            --new-passphrase-file or asked twice on the terminal. Only an admin may add staff; the \
            first member of a vault that has none must be an admin, needs no --as, and gives the \
            settings fingerprint 'casevault init' printed (--settings-fingerprint), because they sign \
            the vault's settings.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Option(help: ArgumentHelp("The new member's id: 2-64 of a-z 0-9 . _ -", valueName: "id"))
    var id: String

    @Option(help: ArgumentHelp("The new member's full name.", valueName: "name"))
    var name: String

    @Option(help: ArgumentHelp("One of: \(Role.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "role"),
            transform: { try parseEnum(Role.self, $0) })
    var role: Role

    @Option(help: ArgumentHelp("A file whose first line is the new member's first passphrase.", valueName: "file"))
    var newPassphraseFile: String?

    @Option(help: ArgumentHelp("For the first admin of a vault made without one: the settings fingerprint 'casevault init' printed.",
                               valueName: "fingerprint"))
    var settingsFingerprint: String?

    func run() throws {
        let vault = try vaultOptions.openVault()
        if try vault.staff().isEmpty && vaultOptions.staffID == nil {
            try addFirstAdmin(to: vault)
            return
        }
        let actingID = try vaultOptions.actingStaffID()
        // Refuse before asking for a passphrase; the core checks again.
        let actingRole = try vault.staffMember(id: actingID).role
        guard actingRole == .admin else {
            throw VaultError.accessDenied("only an admin may add staff; '\(actingID)' is \(actingRole.withArticle)")
        }
        try StaffMember.validate(id: id)
        try StaffMember.validate(name: name)
        try vaultOptions.withUnlocked { vault, actor in
            let passphrase = try newPassphrase(file: newPassphraseFile, for: id)
            let member = try vault.addStaff(id: id, name: name, role: role, passphrase: passphrase, by: actor)
            print("Added \(member.role.displayName) '\(member.id)' (\(member.name)).")
        }
    }

    private func addFirstAdmin(to vault: Vault) throws {
        guard role == .admin else {
            throw VaultError.invalidInput("the first staff member of a vault must be an admin")
        }
        guard let settingsFingerprint else {
            throw CommandFailure(
                message: "the first admin signs this vault's settings; give --settings-fingerprint as 'casevault init' printed it",
                hint: "the fingerprint shows casevault.json is still what init wrote (it is not shown here, so it cannot be copied from an edited file); without it, make a new vault with 'casevault init': this one holds nothing yet",
                code: .usage)
        }
        try StaffMember.validate(id: id)
        try StaffMember.validate(name: name)
        let passphrase = try newPassphrase(file: newPassphraseFile, for: id)
        let member = try vault.addFirstAdmin(id: id, name: name, passphrase: passphrase, settingsFingerprint: settingsFingerprint)
        let identity = try vault.unlock(staffID: id, passphrase: passphrase)
        vaultOptions.keepCheckpoint(vault, identity)
        print("Added \(member.role.displayName) '\(member.id)' (\(member.name)), who signed the vault's settings.")
    }
}
