import ArgumentParser
import CaseVault
import Foundation

struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "List the versions of a case's documents with their stamps (no passphrase needed)."
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case number.", valueName: "number"), completion: Completions.caseNumbers)
    var number: String

    @Argument(help: ArgumentHelp("Only this document.", valueName: "name"), completion: Completions.documentNames)
    var name: String?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        let versions = try vaultOptions.openVault().versions(caseNumber: number, document: name)
        if json {
            print(try JSONText.render(versions.map(JSONShapes.version)))
            return
        }
        guard !versions.isEmpty else {
            print("No documents filed in \(number) yet.")
            return
        }
        let withdrawals = versions.filter { $0.withdrawal != nil }
        print(Table.render(
            header: ["DOCUMENT", "V", "DATE", "CASE", "STATUS", "CASE MANAGER", "CASE SUPERVISOR", "TYPE", "TIER", "SIZE", "FILED BY"]
                + (withdrawals.isEmpty ? [] : ["WITHDRAWN"]),
            rows: versions.map { v in
                [v.document, "\(v.version)", v.stamp.date, v.stamp.caseNumber, v.stamp.caseStatus.rawValue, v.stamp.caseManager,
                 v.stamp.caseSupervisor, v.type, v.tier.rawValue, "\(v.size)", "\(v.stamp.filedByName) (\(v.stamp.filedBy))"]
                    + (withdrawals.isEmpty ? [] : [v.withdrawal.map { "\($0.at.formatted(.iso8601)) by \($0.by)" } ?? ""])
            }))
        for v in withdrawals {
            print("Version \(v.version) of '\(TerminalText.escape(v.document))' was withdrawn by \(v.withdrawal!.by): \(TerminalText.escape(v.withdrawal!.reason))")
        }
    }
}
