import ArgumentParser
import CaseVault
import Foundation

struct FileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "file",
        abstract: "File forms, documents or photos into a case, each as a new version.",
        usage: """
            casevault file <number> <path>... (--type <type> | --form <form-type>) [--name <name>] [--confidential]
            casevault file --manifest <file.csv> [--check] [--again]
            """,
        discussion: """
            Streams each PATH (or standard input, with a single -) into a new encrypted, immutable version \
            of its document: version 1 the first time, then 2, 3, …. A document is named from its file \
            (the name without its extension) unless --name says otherwise; a form takes its schema's title. \
            Each version is stamped with the date and zone, the case number and status, the report name, \
            the Case Manager's and Case Supervisor's names, the version and the filer. Photos (by --type \
            photo or by their bytes) and anything --confidential go to the confidential tier, readable only \
            by the Case Manager and the Case Supervisor; the rest to the team tier. Filing needs no case \
            key: a records officer files into any case and cannot read back what they filed.

            With --form TYPE the input is a JSON form: it is validated against the form type's schema \
            (the vault's newest version, or the built-in one) and filed only if valid; every problem is \
            listed by JSON Pointer and nothing is filed (exit 65). The version records the schema's $id.

            Several files, or --manifest FILE.csv (a header line naming the columns case, path, type or \
            form, and optionally name, confidential and schema-version; paths relative to the manifest), \
            make a batch. Every row is checked first (case, name, type, file readable, form valid) and \
            nothing is filed unless all are fine; --check stops there and needs no passphrase. Then each \
            document is filed on its own, all or nothing, after one unlock, with a progress bar on a \
            terminal and a summary at the end. A journal in your casevault state folder (no content, names \
            or paths in it) remembers what the batch filed: run the same command again after an \
            interruption and only what is missing is filed. Once a batch is finished, running it again \
            files nothing unless you add --again.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case number, e.g. CP-2024-0042.", valueName: "number"), completion: Completions.caseNumbers)
    var number: String?

    @Argument(help: ArgumentHelp("The files to file, or - for standard input (one only).", valueName: "path"))
    var paths: [String] = []

    @Option(help: ArgumentHelp("The report name, e.g. \"Home visit notes\" (default: the file's name without its extension; for --form: the form's title). One file only.", valueName: "name"))
    var name: String?

    @Option(help: ArgumentHelp("What it is, e.g. report, letter, document, photo (not with --form).", valueName: "type"))
    var type: String?

    @Option(help: ArgumentHelp("File JSON forms of this type, validated against its schema first (see 'casevault schema list').",
                               valueName: "form-type"))
    var form: String?

    @Option(help: ArgumentHelp("With --form: the vault schema version to validate against (default: the newest).", valueName: "n"))
    var schemaVersion: Int?

    @Flag(help: "Confidential: only the Case Manager and the Case Supervisor may read it.")
    var confidential = false

    @Option(help: ArgumentHelp("File every row of this CSV file (columns: case, path, type or form, name, confidential, schema-version).",
                               valueName: "file.csv"))
    var manifest: String?

    @Flag(help: "Check every file and row, file nothing (no passphrase needed).")
    var check = false

    @Flag(help: "File a finished batch again, as new versions (its journal is forgotten).")
    var again = false

    @Flag(help: "Name each document as it is filed.")
    var verbose = false

    @Flag(help: "Print each filing as a JSON object, one per line.")
    var json = false

    func validate() throws {
        if manifest != nil {
            guard number == nil, paths.isEmpty else {
                throw ValidationError("--manifest names the cases and files itself; give no case number or path with it")
            }
            for (option, given) in [("--type", type != nil), ("--form", form != nil), ("--name", name != nil),
                                    ("--schema-version", schemaVersion != nil), ("--confidential", confidential)] where given {
                throw ValidationError("\(option) does not go with --manifest: each row gives its own")
            }
            return
        }
        guard number != nil else { throw ValidationError("give the case number and the files to file, or --manifest FILE.csv") }
        guard !paths.isEmpty else { throw ValidationError("give the file to file after the case number, or - for standard input") }
        if paths.count > 1 {
            guard !paths.contains("-") else { throw ValidationError("standard input (-) is filed on its own, not with other files") }
            guard name == nil else {
                throw ValidationError("--name names one document; with several files each is named from its file (or use --manifest to name each)")
            }
        }
        switch (type, form) {
        case (nil, nil): throw ValidationError("give --type for a document, or --form for a JSON form")
        case (_?, _?): throw ValidationError("--type and --form do not go together: a form's type is its form type")
        case (let type?, nil):
            if name == nil, paths == ["-"] { throw ValidationError("a document read from standard input needs --name") }
            try reportingInput { try Vault.validate(documentType: type) }
            if schemaVersion != nil { throw ValidationError("--schema-version goes with --form") }
        case (nil, _?):
            break
        }
        // (A new document's name keeps the stricter rules too: the vault checks that, knowing which exist.)
        if let name { try reportingInput { try Vault.validate(documentName: name) } }
        if check, paths == ["-"] { throw ValidationError("--check reads files; standard input cannot be read twice") }
        if again, !isBatch { throw ValidationError("--again goes with a batch (several files or --manifest)") }
    }

    /// Several files or a manifest: checked first, journaled, with progress.
    private var isBatch: Bool { manifest != nil || paths.count > 1 }

    func run() throws {
        if !isBatch && !check {
            return try fileOne(paths[0])
        }
        let requests = try self.requests()
        let vault = try vaultOptions.openVault()
        let filer = try vaultOptions.actingStaffID()
        let checked = try vault.checkBatch(requests, by: filer)
        let what = manifest.map { $0.split(separator: "/").last.map(String.init) ?? $0 }
        guard checked.problems.isEmpty else {
            for problem in checked.problems {
                Output.writeToStandardError(TerminalText.escape("\(problem.origin): \(problem.message)") + "\n"
                    + problem.details.map { "  " + TerminalText.escape($0) + "\n" }.joined())
            }
            let rows = requests.count == 1 ? "the document" : "\(checked.problems.count) of \(requests.count) \(manifest == nil ? "files" : "rows")"
            throw CommandFailure(message: "\(rows) cannot be filed (above); nothing was filed",
                                 hint: "fix \(checked.problems.count == 1 ? "it" : "them") and run the command again", code: .invalidInput)
        }
        if check {
            print("Checked\(what.map { " " + $0 } ?? ""): \(Count.documents(checked.items.count)) (\(ByteText.render(checked.totalBytes))) into \(Count.cases(checked.caseCount)) can be filed. Nothing was filed.")
            return
        }
        try vaultOptions.withUnlocked(vault) { vault, actor in
            let journal = CheckpointStore.userDefault().map {
                FilingJournal(store: $0, vaultID: vault.config.vaultId, batchID: checked.id(vaultID: vault.config.vaultId, filer: actor.id))
            }
            if journal == nil {
                Output.warning("no state folder (set HOME or CASEVAULT_STATE_DIR): a run cut short will file everything again")
            }
            if again { journal?.discard() }
            let bar = Terminal.isInteractive(2) ? ProgressBar() : nil
            let started = Date()
            let result = try vault.fileBatch(checked, journal: journal, by: actor) { bar?.show($0) }
            bar?.clear()
            let seconds = Date().timeIntervalSince(started)
            try report(result, of: checked, seconds: seconds)
        }
    }

    private func requests() throws -> [FilingRequest] {
        if let manifest { return try FilingManifest.read(manifest) }
        let kind: FilingRequest.Kind = form.map { .form(type: $0, schemaVersion: schemaVersion) } ?? .document(type: type!)
        return paths.map { path in
            FilingRequest(caseNumber: number!, name: name, kind: kind, confidential: confidential, path: path, origin: path)
        }
    }

    private func fileOne(_ path: String) throws {
        try vaultOptions.withUnlocked { vault, actor in
            let input: FilingInput = path == "-" ? .standardInput : .file(path: path)
            let filed: VersionInfo
            if let form {
                filed = try vault.fileForm(caseNumber: number!, type: form, name: name, schemaVersion: schemaVersion,
                                           confidential: confidential, from: input, by: actor)
            } else {
                filed = try vault.file(caseNumber: number!, name: name ?? Vault.documentName(forFile: path), type: type!,
                                       confidential: confidential, from: input, by: actor)
            }
            if json {
                print(try JSONLine.render(["case": filed.caseNumber, "document": filed.document, "version": filed.version,
                                           "tier": filed.tier.rawValue, "caseStatus": filed.stamp.caseStatus.rawValue,
                                           "size": filed.size, "status": "filed", "origin": path]))
            } else {
                print("Filed '\(filed.document)' version \(filed.version) into \(filed.caseNumber) [\(filed.stamp.caseStatus.rawValue)]: \(filed.tier.rawValue) tier, \(filed.size) bytes.")
            }
        }
    }

    private func report(_ result: BatchResult, of batch: CheckedBatch, seconds: Double) throws {
        for row in result.rows {
            if json {
                print(try JSONLine.render(["case": row.item.caseNumber, "document": row.item.name, "version": row.version,
                                           "tier": row.tier.rawValue, "caseStatus": row.caseStatus.rawValue, "size": row.item.size,
                                           "status": row.filedNow ? "filed" : "already-filed", "origin": row.item.origin]))
            } else if verbose {
                let how = row.filedNow ? "Filed" : "Already filed"
                print(TerminalText.escape("\(how) '\(row.item.name)' version \(row.version) into \(row.item.caseNumber) [\(row.caseStatus.rawValue)]: \(row.tier.rawValue) tier, \(row.item.size) bytes (\(row.item.origin))."))
            }
        }
        let filed = result.filed
        let earlier = result.alreadyFiled.count
        let bytes = filed.reduce(Int64(0)) { $0 + $1.item.size }
        let summary: String
        if filed.isEmpty && earlier > 0 && result.failure == nil {
            summary = "Nothing to file: all \(Count.documents(earlier)) of this batch were filed by an earlier run (add --again to file them as new versions)."
        } else {
            let rate = seconds > 0 && filed.count > 1 ? String(format: ", %.0f documents/s", Double(filed.count) / seconds) : ""
            var text = "Filed \(Count.documents(filed.count)) (\(ByteText.render(bytes))) into \(Count.cases(Set(filed.map(\.item.caseNumber)).count)) in \(String(format: "%.1f", seconds)) s\(rate)"
            if earlier > 0 { text += "; \(earlier) already filed by an earlier run of this batch" }
            summary = text + "."
        }
        if json { Output.writeToStandardError(summary + "\n") } else { print(summary) }
        if let failure = result.failure {
            let left = batch.items.count - result.rows.count
            Output.error("\(failure.item.origin): \(failure.error.message)",
                         hint: "\(left) of \(batch.items.count) not filed; fix this and run the same command again: what is filed is not filed twice")
            throw QuietExit(code: ExitCode(for: failure.error))
        }
    }
}

/// "1 document", "3 documents"; "1 case", "8 cases".
enum Count {
    static func documents(_ n: Int) -> String { n == 1 ? "1 document" : "\(n) documents" }
    static func cases(_ n: Int) -> String { n == 1 ? "1 case" : "\(n) cases" }
}

/// Byte counts as people read them: "812 bytes", "3.4 KiB", "9.1 MiB".
enum ByteText {
    static func render(_ bytes: Int64) -> String {
        if bytes < 1024 { return bytes == 1 ? "1 byte" : "\(bytes) bytes" }
        let units = ["KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes) / 1024
        var unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return String(format: value < 10 ? "%.1f %@" : "%.0f %@", value, units[unit])
    }
}

/// One JSON object on one line, keys sorted: JSON Lines output.
enum JSONLine {
    static func render(_ object: [String: Any]) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}

/// A one-line progress bar on standard error: files and bytes, rate and
/// time left, redrawn at most ten times a second.
final class ProgressBar {
    private let started = Date()
    private var lastDrawn = Date.distantPast

    func show(_ progress: BatchProgress) {
        let now = Date()
        let finished = progress.filesDone == progress.filesTotal
        guard finished || now.timeIntervalSince(lastDrawn) >= 0.1 else { return }
        lastDrawn = now
        let fraction = progress.bytesTotal > 0 ? Double(progress.bytesDone) / Double(progress.bytesTotal)
            : Double(progress.filesDone) / Double(max(progress.filesTotal, 1))
        let width = 24
        let filled = min(width, Int(fraction * Double(width)))
        var line = "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "] "
        line += "\(progress.filesDone)/\(progress.filesTotal) files  \(ByteText.render(progress.bytesDone)) of \(ByteText.render(progress.bytesTotal))"
        let elapsed = now.timeIntervalSince(started)
        if elapsed >= 1, progress.bytesDone > 0 {
            let rate = Double(progress.bytesDone) / elapsed
            line += "  \(ByteText.render(Int64(rate)))/s"
            if !finished, fraction > 0 { line += "  about \(Self.duration(elapsed * (1 - fraction) / fraction)) left" }
        }
        Output.progress(line)
    }

    func clear() { Output.progress("") }

    static func duration(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded(.up))
        if whole < 60 { return "\(whole) s" }
        if whole < 3600 { return "\(whole / 60) min \(whole % 60) s" }
        return "\(whole / 3600) h \(whole / 60 % 60) min"
    }
}
