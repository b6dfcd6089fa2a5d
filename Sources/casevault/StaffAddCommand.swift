import ArgumentParser
import CaseVault

struct StaffAddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add a staff member (admins only).",
        discussion: """
            Creates the member's key pairs and wraps them under their first passphrase, read from \
            --new-passphrase-file or asked twice on the terminal. Only an admin may add staff; the \
            first member of a vault that has none must be an admin and needs no --as.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Option(help: ArgumentHelp("The new member's id: 2-64 of a-z 0-9 . _ -", valueName: "id"))
    var id: String

    @Option(help: ArgumentHelp("The new member's full name.", valueName: "name"))
    var name: String

    @Option(help: ArgumentHelp("One of: \(Role.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "role"),
            transform: { try parseEnum(Role.self, $0, option: "--role") })
    var role: Role

    @Option(help: ArgumentHelp("A file whose first line is the new member's first passphrase.", valueName: "file"))
    var newPassphraseFile: String?

    func run() throws {
        let vault = try vaultOptions.openVault()
        let actor: StaffIdentity?
        if try vault.staff().isEmpty && vaultOptions.staffID == nil {
            actor = nil
        } else {
            let id = try vaultOptions.actingStaffID()
            // Refuse before asking for a passphrase; the core checks again.
            let role = try vault.staffMember(id: id).role
            guard role == .admin else {
                throw VaultError.accessDenied("only an admin may add staff; '\(id)' is a \(role.displayName)")
            }
            actor = try vault.unlock(staffID: id, passphrase: try vaultOptions.passphrase(for: id))
        }
        try StaffMember.validate(id: id)
        try StaffMember.validate(name: name)
        let passphrase = try newPassphrase(file: newPassphraseFile, for: id)
        let member = try vault.addStaff(id: id, name: name, role: role, passphrase: passphrase, by: actor)
        print("Added \(member.role.displayName) '\(member.id)' (\(member.name)).")
    }
}
