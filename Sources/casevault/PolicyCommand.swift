import ArgumentParser
import CaseVault
import Foundation

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Show or set the vault's confidentiality policy.",
        subcommands: [PolicyShowCommand.self, PolicyConfidentialCommand.self]
    )
}

struct PolicyShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show the document types always filed confidential (no passphrase needed)."
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Flag(help: "Print JSON (Schemas/cli/policy-show.schema.json) instead of text.")
    var json = false

    func run() throws {
        let policy = try vaultOptions.openVault().confidentialTypes()
        if json {
            print(try JSONText.render(["confidentialTypes": policy.types, "setBy": policy.setBy as Any,
                                       "at": policy.at.map { $0.formatted(.iso8601) } as Any, "imagesAreConfidential": true] as [String: Any]))
            return
        }
        print("Always confidential (whoever files them, whatever the file): \(policy.types.joined(separator: ", "))")
        if let by = policy.setBy, let at = policy.at {
            print("  set by \(by) on \(at.formatted(.iso8601))")
        } else {
            print("  the defaults: no admin has set the vault's own list ('casevault policy confidential-types TYPE…')")
        }
        print("Photos and anything that looks like an image are confidential too.")
    }
}

struct PolicyConfidentialCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "confidential-types",
        abstract: "Set the document types always filed to the confidential tier (admins).",
        discussion: """
            Replaces the list; a signed event. From then on every filing of one of these types goes to the \
            confidential tier (the Case Manager, the Case Supervisor and the recovery key only), whoever files it and \
            whether or not they give --confidential. Versions already filed keep their tier, and a document once \
            confidential stays so. The defaults: \(CaseVault.Vault.defaultConfidentialTypesText).
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("Document types, e.g. medical legal photo.", valueName: "type"))
    var types: [String]

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            try vault.setConfidentialTypes(types, by: actor)
            print("Always confidential now: \(try vault.confidentialTypes().types.joined(separator: ", ")).")
        }
    }
}
