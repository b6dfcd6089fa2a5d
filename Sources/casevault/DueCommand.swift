import ArgumentParser
import CaseVault
import Foundation

struct DueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "due",
        abstract: "List what needs attention: aged-out cases closing, idle cases, missing visits, closures awaiting approval.",
        discussion: """
            From the catalog alone, no passphrase and no decryption: aged-out (AO) cases closing within 30 days or \
            past their closing day; open, inactive and aged-out cases with nothing filed for --idle-days (90); open \
            cases without a home-visit or monitoring form for --visit-days (30); closures awaiting a supervisor's \
            approval. Cases transferred to another vault are that office's and are left out. --close-aged-out \
            closes, as you, every AO case whose closing day has come (a signed event each; filing into such a case \
            does it too).
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Option(help: ArgumentHelp("As of this day (YYYY-MM-DD; default today).", valueName: "date"))
    var asOf: String?

    @Option(help: ArgumentHelp("Days without a filing before a case counts as idle.", valueName: "n"))
    var idleDays = 90

    @Option(help: ArgumentHelp("Days without a home-visit or monitoring form before an open case is listed.", valueName: "n"))
    var visitDays = 30

    @Flag(help: "Close every aged-out case whose closing day has come (needs --as and a passphrase).")
    var closeAgedOut = false

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        guard idleDays > 0, visitDays > 0 else { throw ValidationError("--idle-days and --visit-days are at least 1") }
        if closeAgedOut, asOf != nil { throw ValidationError("--close-aged-out closes as of today; it does not take --as-of") }
    }

    func run() throws {
        let date = try asOfDay(asOf)
        if closeAgedOut {
            try vaultOptions.withUnlocked { vault, actor in
                let closed = try vault.closeAgedOutCases(by: actor)
                print(closed.isEmpty ? "No aged-out case has reached its closing day." : "Closed (aged out): \(closed.joined(separator: ", ")).")
            }
        }
        let items = try vaultOptions.openVault().due(asOf: date, idleDays: idleDays, visitDays: visitDays)
        if json {
            print(try JSONText.render(items.map { ["case": $0.caseNumber, "kind": $0.kind.rawValue, "date": $0.date as Any, "detail": $0.detail] }))
            return
        }
        guard !items.isEmpty else {
            print("Nothing is due.")
            return
        }
        print(Table.render(header: ["CASE", "WHAT", "DATE", "DETAIL"],
                           rows: items.map { [$0.caseNumber, $0.kind.rawValue, $0.date ?? "", $0.detail] }))
    }
}
