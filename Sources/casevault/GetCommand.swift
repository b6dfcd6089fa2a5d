import ArgumentParser
import CaseVault
import Foundation

struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Read a document (Case Managers and Supervisors holding a grant; project directors for the team tier).",
        discussion: """
            Writes the plaintext to standard output, or to a new file with -o (never over an existing \
            file; written under a temporary name and renamed only when the whole document has \
            authenticated, so a damaged document leaves no file). With -o FOLDER/ (an existing folder) \
            the file gets the name it was filed under, kept encrypted with the version (or, for versions \
            filed before names were kept, the document's name and version). Every read is recorded as a signed \
            event. A version that fails authentication exits with code 81.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case number.", valueName: "number"), completion: Completions.caseNumbers)
    var number: String

    @Argument(help: ArgumentHelp("The document name.", valueName: "name"), completion: Completions.documentNames)
    var name: String

    @Argument(help: ArgumentHelp("Which version, as history shows it: 2 or v2 (default: the current one).", valueName: "version"))
    var versionNumber: VersionNumber?

    var version: Int? { versionNumber?.number }

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Write to this new file, or into this folder under the file's original name.", valueName: "path"))
    var output: String?

    @Flag(help: "Write content that is not plain text to a terminal all the same.")
    var force = false

    @Flag(help: "For a form: print it as labelled text under its stamped header (date, case number and status, report, Case Manager and Case Supervisor).")
    var render = false

    func validate() throws {
        if render && output != nil { throw ValidationError("--render prints to the screen; it does not go with -o") }
    }

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            // A withdrawn version is read only when asked for by number, and said so first.
            if let version, let withdrawal = try vault.versions(caseNumber: number, document: name)
                .first(where: { $0.version == version })?.withdrawal {
                Output.warning("version \(version) of '\(name)' was withdrawn on \(withdrawal.at.formatted(.iso8601)) by \(withdrawal.by): \(withdrawal.reason)")
            }
            if render {
                print(try vault.renderForm(caseNumber: number, document: name, version: version, by: actor), terminator: "")
            } else if let output {
                var isFolder: ObjCBool = false
                let toFolder = output.hasSuffix("/") || (FileManager.default.fileExists(atPath: output, isDirectory: &isFolder) && isFolder.boolValue)
                let info: VersionInfo
                do {
                    info = try vault.retrieve(caseNumber: number, document: name, version: version, by: actor,
                                              to: toFolder ? .folder(path: output) : .file(path: output))
                } catch VaultError.alreadyExists(let message) where toFolder {
                    throw CommandFailure(message: message, hint: "casevault never writes over a file: give another folder, or a new name with -o FOLDER/NAME",
                                         code: .alreadyExists)
                }
                let written = toFolder ? (info.writtenTo ?? output) : output
                let details = ((info.fileInfo.map { [$0.mediaType] } ?? []) + ["\(info.size) bytes"]).joined(separator: ", ")
                print(TerminalText.escape("Wrote '\(info.document)' version \(info.version) of \(info.caseNumber) to \(written) (\(details))."))
            } else {
                let destination: RetrievalDestination = Terminal.isInteractive(1) && !force ? .terminal : .standardOutput
                try vault.retrieve(caseNumber: number, document: name, version: version, by: actor, to: destination)
            }
        }
    }
}
