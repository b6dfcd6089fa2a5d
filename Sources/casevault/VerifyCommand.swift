import ArgumentParser
import CaseVault
import Foundation

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check the whole vault against its signed event log (no passphrase needed).",
        discussion: """
            Checks every event's form, place and signature by the key its signer held then, and \
            that its signer was allowed to sign it; replays the log from the start into a scratch \
            catalog and compares it with the vault's, row by row; checks every state root the log \
            signed, the Merkle tree, the checkpoint casevault keeps for you and any given with \
            --checkpoint; checks that every sealed key and object the log names is there, and with \
            --read-data that every object's bytes hash to its name. Objects no version names and \
            temporary files left by an interrupted filing are reported apart, not as faults; \
            --repair removes them when the vault is otherwise sound and no filing is running. \
            Exit code 0 when clean, 81 otherwise.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Flag(help: "Also read every object and check its bytes against its name.")
    var readData = false

    @Option(help: ArgumentHelp("Read this percentage of the objects, chosen at random.", valueName: "percent"))
    var readDataSubset: Double?

    @Flag(help: "Remove orphan objects and unfinished temporary files (only when nothing else is wrong).")
    var repair = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        if readData && readDataSubset != nil { throw ValidationError("--read-data and --read-data-subset do not go together") }
        if let percent = readDataSubset, !(0...100).contains(percent) { throw ValidationError("--read-data-subset takes 0 to 100") }
    }

    func run() throws {
        let vault = try vaultOptions.openVault(checking: false)
        var options = VerifyOptions(readData: readData ? .all : readDataSubset.map { .subset(percent: $0) } ?? .none, repair: repair)
        if Terminal.isInteractive(2) {
            options.progress = { stage, done, total in
                guard total > 2_000 || stage == "objects" else { return }
                Output.progress("verifying \(stage): \(done) of \(total)")
                if done == total { Output.writeToStandardError("\r\u{1B}[K") }
            }
        }
        let report = try vault.verify(options)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(Self.render(report))
        }
        if !report.isClean { throw QuietExit(code: .integrityFailure) }
    }

    static func render(_ report: VerifyReport) -> String {
        var lines = ["Checked \(report.events) events (log root \(report.rootHex.prefix(16))…), \(report.versions) versions"
                     + (report.objectsRead > 0 ? ", read \(report.objectsRead) objects (\(report.bytesRead) bytes)." : ".")]
        func list(_ findings: [Finding]) -> [String] {
            let width = findings.map(\.kind.rawValue.count).max() ?? 0
            return findings.map { "  " + $0.kind.rawValue.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                                  + TerminalText.escape($0.subject) + ": " + TerminalText.escape($0.detail) }
        }
        if report.isClean {
            lines.append("No faults: the catalog, blobs and objects are what the signed log says.")
        } else {
            let count = report.findings.count + report.findingsNotListed
            lines.append("\(count) fault\(count == 1 ? "" : "s"):")
            lines += list(report.findings)
            if report.findingsNotListed > 0 { lines.append("  … and \(report.findingsNotListed) more") }
            lines.append("Do not write to this vault; keep a copy of the folder as it is.")
        }
        if !report.notes.isEmpty {
            lines.append("Not faults:")
            lines += list(report.notes)
            if report.notes.contains(where: { $0.kind != .leftoverRemoved }) && !report.notes.contains(where: { $0.kind == .leftoverRemoved }) {
                lines.append("Remove leftovers with 'casevault verify --repair' while no filing is running.")
            }
        }
        return lines.joined(separator: "\n")
    }
}
