import ArgumentParser
import CaseVault
import Foundation

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write packages of case files for someone else.",
        subcommands: [ExportHandoverCommand.self, ExportCaseCommand.self, ExportAuditCommand.self]
    )
}

struct ExportHandoverCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "handover",
        abstract: "A handover package of cases for the member taking them over.",
        discussion: """
            One folder per case, named by its label ("CP-2024-0042 [O]"), with the current version of every \
            document the recipient may read (confidential ones only if they hold that tier), named by the report \
            name with the original file's extension (in a sealed package) or one from its content (the original \
            file names, which often name the child, stay sealed; a zip's entry names are in clear), in a form \
            Windows takes too (CON, a:b and a trailing dot become _CON, a_b, _), the latest handover form \
            rendered under its stamp, and MANIFEST.json (names, versions, stamps, \
            SHA-256 of each file; Schemas/export-manifest.schema.json). Every document is read by you, a signed \
            read each, and streamed into the package: no plaintext is written anywhere else. By default the package \
            is sealed to the recipient, who opens it with `casevault package open`; with --zip-passphrase-file it \
            is a zip under WinZip AES-256 (never ZipCrypto) that 7-Zip opens, for a passphrase of at least 16 \
            characters given to the recipient another way. The export is a signed event naming the package's \
            BLAKE3-256 (b3sum; BLAKE2b-256, b2sum -l 256, in a vault of format 1 or 2) and every version in it.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Option(parsing: .upToNextOption, help: ArgumentHelp("The cases to put in.", valueName: "number"))
    var cases: [String]

    @Option(help: ArgumentHelp("The staff id of who receives it.", valueName: "id"))
    var to: String

    @Option(help: ArgumentHelp("The package to write (a new file).", valueName: "file"))
    var out: String

    @Option(help: ArgumentHelp("Write an AES-256 zip under the passphrase on this file's first line instead.", valueName: "file"))
    var zipPassphraseFile: String?

    @Flag(help: "Print what was written as JSON (Schemas/cli/export-handover.schema.json).")
    var json = false

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            let passphrase = try zipPassphraseFile.map { try Passphrase(contentsOfFile: $0) }
            let report = try vault.exportHandover(cases: cases, to: to, out: out, zipPassphrase: passphrase, by: actor)
            for item in report.leftOut { Output.warning("left out \(item.caseNumber) '\(TerminalText.escape(item.document))': \(item.why)") }
            if json {
                print(try JSONText.render([
                    "path": report.path, "format": report.format.rawValue, "recipient": report.recipient, "bytes": report.bytes,
                    "hash": ["algorithm": report.hash.rawValue, "digest": report.digest],
                    "files": report.files.map(Self.jsonObject),
                    "leftOut": report.leftOut.map { ["case": $0.caseNumber, "document": $0.document, "why": $0.why] },
                ] as [String: Any]))
                return
            }
            for file in report.files { print("  \(TerminalText.escape(file.path))  \(file.size) bytes  sha256 \(file.sha256.prefix(16))…") }
            let how = report.format == .sealed ? "sealed to '\(report.recipient)' (casevault package open)" : "an AES-256 zip (7-Zip opens it)"
            print("Wrote \(report.path): \(report.files.count) file(s), \(report.bytes) bytes, \(how); \(report.hash.label) \(report.digest) (\(report.hash.checkedBy))")
        }
    }

    /// A file of a package, as `export handover` and `package open` print it.
    static func jsonObject(_ file: PackagedFile) -> [String: Any] {
        ["path": file.path, "case": file.caseNumber.isEmpty ? NSNull() : file.caseNumber as Any, "document": file.document ?? NSNull() as Any,
         "version": file.version, "size": file.size, "sha256": file.sha256]
    }
}

struct PackageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "package",
        abstract: "Open a package sealed to you.",
        subcommands: [PackageOpenCommand.self]
    )
}

struct PackageOpenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "open",
        abstract: "Open a handover package sealed to you into a new folder.",
        discussion: """
            Unseals the package with your keys (a package sealed to someone else is refused), and extracts it \
            into a staging folder beside --out, refusing absolute paths, '..', links, devices, duplicate or \
            over-long names, oversize entries, and a truncated or altered package; every file must match \
            MANIFEST.json. Only then does the folder appear under --out; on any refusal nothing is left. The \
            files are plaintext: keep them on an encrypted disk and delete them when done.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The package.", valueName: "file"))
    var file: String

    @Option(help: ArgumentHelp("A new folder to extract into.", valueName: "dir"))
    var out: String

    @Flag(help: "Print what was extracted as JSON (Schemas/cli/package-open.schema.json).")
    var json = false

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            let opened = try vault.openPackage(at: file, into: out, by: actor)
            if json {
                print(try JSONText.render(["folder": opened.folder, "files": opened.files.map(ExportHandoverCommand.jsonObject)] as [String: Any]))
                return
            }
            for item in opened.files { print("  \(TerminalText.escape(item.path))  \(item.size) bytes  sha256 matches the manifest") }
            print("Opened into \(opened.folder): \(opened.files.count) file(s) and MANIFEST.json.")
        }
    }
}
