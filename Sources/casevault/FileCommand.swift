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

            With --form TYPE the input is a JSON form: it is validated against the form type's schema \
            (the vault's newest version, or the built-in one) and filed only if valid; every problem is \
            listed by JSON Pointer and nothing is filed (exit 65). The version records the schema's $id.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case number, e.g. CP-2024-0042.", valueName: "number"))
    var number: String

    @Option(help: ArgumentHelp("The report name, e.g. \"Home visit notes\" (default for --form: the form's title).", valueName: "name"))
    var name: String?

    @Option(help: ArgumentHelp("What it is, e.g. report, letter, document, photo (not with --form).", valueName: "type"))
    var type: String?

    @Option(help: ArgumentHelp("File a JSON form of this type, validated against its schema first (see 'casevault schema list').",
                               valueName: "form-type"))
    var form: String?

    @Option(help: ArgumentHelp("With --form: the vault schema version to validate against (default: the newest).", valueName: "n"))
    var schemaVersion: Int?

    @Flag(help: "Confidential: only the Case Manager and the Case Supervisor may read it.")
    var confidential = false

    @Argument(help: ArgumentHelp("The file to file, or - for standard input.", valueName: "path"))
    var path: String

    func validate() throws {
        switch (type, form) {
        case (nil, nil): throw ValidationError("give --type for a document, or --form for a JSON form")
        case (_?, _?): throw ValidationError("--type and --form do not go together: a form's type is its form type")
        case (let type?, nil):
            guard let name else { throw ValidationError("a document needs --name") }
            try reportingInput { try Vault.validate(newDocumentName: name) }
            try reportingInput { try Vault.validate(documentType: type) }
            if schemaVersion != nil { throw ValidationError("--schema-version goes with --form") }
        case (nil, _?):
            if let name { try reportingInput { try Vault.validate(newDocumentName: name) } }
        }
    }

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            let input: FilingInput = path == "-" ? .standardInput : .file(path: path)
            let filed: VersionInfo
            if let form {
                filed = try vault.fileForm(caseNumber: number, type: form, name: name, schemaVersion: schemaVersion,
                                           confidential: confidential, from: input, by: actor)
            } else {
                filed = try vault.file(caseNumber: number, name: name!, type: type!, confidential: confidential, from: input, by: actor)
            }
            print("Filed '\(filed.document)' version \(filed.version) into \(filed.caseNumber) [\(filed.stamp.caseStatus.rawValue)]: \(filed.tier.rawValue) tier, \(filed.size) bytes.")
        }
    }
}
