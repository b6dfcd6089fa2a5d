import ArgumentParser
import CaseVault
import Foundation

struct MoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "move",
        abstract: "Move a document filed in the wrong case to the right one (the source case's manager or supervisor).",
        discussion: """
            Every version goes, with its stamp as filed. Each version's file key is sealed anew to the target case's \
            key of the same tier and the old sealed keys are erased, so only the target case's holders can open it \
            from now on (copies of the vault taken before, such as backups, still hold the old keys). The source \
            case keeps a signed tombstone saying where the document went and why.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case the document is in now.", valueName: "number"))
    var number: String

    @Argument(help: ArgumentHelp("The document (report) name.", valueName: "name"), completion: Completions.documentNames)
    var name: String

    @Option(help: ArgumentHelp("The case it belongs to.", valueName: "number"))
    var to: String

    @Option(help: ArgumentHelp("Its name in that case (default: the same).", valueName: "name"))
    var newName: String?

    @Option(help: ArgumentHelp("Why (kept in the signed tombstone).", valueName: "text"))
    var reason: String

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            let versions = try vault.moveDocument(caseNumber: number, document: name, to: to, name: newName, reason: reason, by: actor)
            guard let last = versions.last else { return }
            print("Moved '\(name)' (\(versions.count) version\(versions.count == 1 ? "" : "s")) to \(last.caseNumber) as '\(last.document)'.")
            print("  \(number) keeps a tombstone; only \(last.caseNumber)'s holders can open it now.")
        }
    }
}
