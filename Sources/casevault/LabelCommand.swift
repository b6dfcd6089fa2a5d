import ArgumentParser
import CaseVault
import Foundation

struct LabelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "label",
        abstract: "Print a folder's label, or write a printable sheet of labels (no passphrase needed).",
        discussion: """
            A label carries what manual §5.5 requires of a client folder, and nothing else: the case category, \
            year of admission, client number and status, and the case number they make up; no names of children \
            or staff. 'casevault label NUMBER' prints a spine line and a cover block. With --all or --status and \
            --out FILE, it writes an SVG sheet for A4 label stock of 21 labels (Avery L7160 and compatibles, \
            63.5 × 38.1 mm, 3 across and 7 down); more cases make more sheets (FILE-1.svg, FILE-2.svg, …). Open \
            the sheet in a browser and print it at 100 % (no scaling). A sheet leaves out cases transferred to \
            another vault (their folders went with them).
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case number, e.g. CP-2024-0042.", valueName: "number"), completion: Completions.caseNumbers)
    var number: String?

    @Flag(help: "A sheet of every case.")
    var all = false

    @Option(help: ArgumentHelp("A sheet of the cases with this status: O, IA, AO or C.", valueName: "status"),
            transform: { try parseEnum(CaseStatus.self, $0) })
    var status: CaseStatus?

    @Option(help: ArgumentHelp("Where to write the SVG sheet (never over an existing file).", valueName: "file"))
    var out: String?

    @Option(help: ArgumentHelp("Labels already used on the first sheet, left blank (0 to 20).", valueName: "n"))
    var skip = 0

    @Flag(help: "For one case: print the label's fields as JSON (Schemas/cli/label.schema.json).")
    var json = false

    func validate() throws {
        let chosen = [number != nil, all, status != nil].filter { $0 }.count
        guard chosen == 1 else { throw ValidationError("give one case NUMBER, or --all, or --status S") }
        if number == nil, out == nil { throw ValidationError("a sheet needs --out FILE (an .svg file)") }
        if json, number == nil || out != nil { throw ValidationError("--json prints one case's label; it does not go with a sheet") }
        guard (0..<FolderLabel.Stock.l7160.perSheet).contains(skip) else { throw ValidationError("--skip is 0 to 20") }
    }

    func run() throws {
        let vault = try vaultOptions.openVault()
        let files: [CaseFile]
        if let number {
            let file = try vault.caseFile(number)
            if json {
                print(try JSONText.render([
                    "number": file.number.description, "category": file.number.category, "year": file.number.year,
                    "clientNumber": String(format: "%04d", file.number.clientNumber), "status": file.status.rawValue,
                    "statusName": file.status.displayName, "spine": FolderLabel.spine(file),
                ] as [String: Any]))
                return
            }
            guard out != nil else {
                print(FolderLabel.spine(file))
                print()
                print(FolderLabel.cover(file))
                return
            }
            files = [file]
        } else {
            var filter = CaseFilter()
            filter.status = status
            // Not the folders of cases transferred to another vault: they went with the case.
            files = try vault.cases(matching: filter).filter { $0.transferredTo == nil }
            guard !files.isEmpty else { throw CommandFailure(message: "no cases match; no sheet written", code: .notFound) }
        }
        guard let out else { return }
        let paths = try FolderLabel.write(FolderLabel.sheets(files, skip: skip), to: out)
        print("Wrote \(files.count) label\(files.count == 1 ? "" : "s") on \(paths.count) sheet\(paths.count == 1 ? "" : "s") for \(FolderLabel.Stock.l7160.name):")
        for path in paths { print("  \(path)") }
        print("Print at 100 % (no scaling).")
    }
}
