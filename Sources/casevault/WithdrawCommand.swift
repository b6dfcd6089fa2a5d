import ArgumentParser
import CaseVault

struct WithdrawCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "withdraw",
        abstract: "Withdraw a version filed in error (the case's manager or supervisor); nothing is deleted.",
        discussion: """
            The version stays in the document's history, stamped as filed, and its holders can still read it \
            with 'casevault get NUMBER NAME VERSION' (with a warning). It is no longer the document's current \
            version: 'get' without a version, 'case show' and 'diff' use the newest version not withdrawn. \
            The withdrawal is a signed event with its reason.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case number, e.g. CP-2024-0042.", valueName: "number"), completion: Completions.caseNumbers)
    var number: String

    @Argument(help: ArgumentHelp("The document (report) name.", valueName: "name"), completion: Completions.documentNames)
    var name: String

    @Argument(help: ArgumentHelp("The version to withdraw, as history shows it: 2 or v2.", valueName: "version"))
    var versionNumber: VersionNumber

    var version: Int { versionNumber.number }

    @Option(help: ArgumentHelp("Why (kept in the signed history).", valueName: "text"))
    var reason: String

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            let info = try vault.withdraw(caseNumber: number, document: name, version: version, reason: reason, by: actor)
            print("Withdrew '\(info.document)' version \(info.version) of \(info.caseNumber); it stays in its history.")
        }
    }
}
