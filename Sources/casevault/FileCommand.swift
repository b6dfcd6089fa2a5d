import ArgumentParser
import CaseVault

struct FileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "file",
        abstract: "File a form, document or photo into a case as a new version.",
        discussion: """
            Streams PATH (or standard input, with -) into a new encrypted, immutable version of NAME: \
            version 1 the first time, then 2, 3, …. Each version is stamped with the date and zone, the \
            case number and status, the report name, the Case Manager's and Case Supervisor's names, \
            the version and the filer. Photos (by --type photo or by their bytes) and anything \
            --confidential go to the confidential tier, readable only by the Case Manager and the Case \
            Supervisor; the rest to the team tier. Filing needs no case key: a records officer files into \
            any case and cannot read back what they filed.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case number, e.g. CP-2024-0042.", valueName: "number"))
    var number: String

    @Option(help: ArgumentHelp("The report name, e.g. \"Intake form\".", valueName: "name"))
    var name: String

    @Option(help: ArgumentHelp("What it is, e.g. form, assessment, report, document, photo.", valueName: "type"))
    var type: String

    @Flag(help: "Confidential: only the Case Manager and the Case Supervisor may read it.")
    var confidential = false

    @Argument(help: ArgumentHelp("The file to file, or - for standard input.", valueName: "path"))
    var path: String

    func validate() throws {
        try Vault.validate(documentName: name)
        try Vault.validate(documentType: type)
    }

    func run() throws {
        let (vault, actor) = try vaultOptions.unlock()
        let filed = try vault.file(caseNumber: number, name: name, type: type, confidential: confidential,
                                   from: path == "-" ? .standardInput : .file(path: path), by: actor)
        print("Filed '\(filed.document)' version \(filed.version) into \(filed.caseNumber) [\(filed.stamp.caseStatus.rawValue)]: \(filed.tier.rawValue) tier, \(filed.size) bytes.")
    }
}
