import ArgumentParser
import CaseVault
import Foundation

struct HandoverCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "handover",
        abstract: "Prepare a departing member's handover (manual §5.2.4).",
        subcommands: [HandoverCheckCommand.self]
    )
}

struct HandoverCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "List, per case of a departing member, what blocks a clean handover (no passphrase, no decryption).",
        discussion: """
            For every case the member manages or supervises that is not closed (or those named with --cases): forms \\
            its status requires that have no current version (defaults: intake, assessment and care-plan for O, \\
            transition-plan for AO; change with --require STATUS=TYPE,TYPE…); no home-visit or monitoring form for \\
            --visit-days (30) in an O or AO case; a current care plan older than --care-plan-days (90); a closure \\
            awaiting approval; and documents others filed since the member last read them (from the signed reads in \\
            the log). Exit 0 whether or not anything blocks: the list is the answer.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Option(help: ArgumentHelp("The departing member's staff id.", valueName: "id"))
    var from: String

    @Option(parsing: .upToNextOption, help: ArgumentHelp("Only these cases (each must be the member's).", valueName: "number"))
    var cases: [String] = []

    @Option(help: ArgumentHelp("Forms a status requires, e.g. O=intake,assessment,care-plan (repeat per status; AO=, for none).",
                               valueName: "status=types"))
    var require: [String] = []

    @Option(help: ArgumentHelp("Days without a home-visit or monitoring form before it blocks.", valueName: "n"))
    var visitDays = 30

    @Option(help: ArgumentHelp("Days after which a care plan is stale.", valueName: "n"))
    var carePlanDays = 90

    @Option(help: ArgumentHelp("As of this day (YYYY-MM-DD; default today).", valueName: "date"))
    var asOf: String?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func rules() throws -> HandoverRules {
        var rules = HandoverRules()
        guard visitDays > 0, carePlanDays > 0 else { throw ValidationError("--visit-days and --care-plan-days are at least 1") }
        rules.visitDays = visitDays
        rules.carePlanDays = carePlanDays
        for item in require {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let status = CaseStatus(rawValue: String(parts[0])) else {
                throw ValidationError("--require takes STATUS=TYPE,TYPE… with a status of O, IA, AO or C, not '\(item)'")
            }
            rules.required[status] = parts[1].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        return rules
    }

    func run() throws {
        let rules = try rules()
        let date = try asOfDay(asOf)
        let results = try vaultOptions.openVault().handoverReadiness(of: from, cases: cases.isEmpty ? nil : cases, rules: rules, asOf: date)
        if json {
            print(try JSONText.render(results.map { result in
                ["case": result.caseNumber, "status": result.status.rawValue, "role": result.role, "ready": result.isReady,
                 "blockers": result.blockers.map { ["kind": $0.kind.rawValue, "document": $0.document as Any, "detail": $0.detail] }] as [String: Any]
            }))
            return
        }
        guard !results.isEmpty else {
            print("\(from) holds no open case.")
            return
        }
        var rows: [[String]] = []
        for result in results {
            if result.blockers.isEmpty { rows.append([result.caseNumber, result.role, "ready", "", ""]) }
            for blocker in result.blockers {
                rows.append([result.caseNumber, result.role, blocker.kind.rawValue, TerminalText.escape(blocker.document ?? ""),
                             TerminalText.escape(blocker.detail)])
            }
        }
        print(Table.render(header: ["CASE", "AS", "WHAT", "DOCUMENT", "DETAIL"], rows: rows))
        let ready = results.filter(\.isReady).count
        print("\(ready) of \(results.count) case(s) ready to hand over.")
    }
}
