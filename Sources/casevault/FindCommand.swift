import ArgumentParser
import CaseVault
import Foundation

/// `casevault find`: cases by number, label, status, tag, staff, category,
/// year, and by the client's name through the keyed index (SECURITY.md §12e).
struct FindCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "find",
        abstract: "Find cases by number, label, status, tag, staff, category, year, or the client's name.",
        discussion: """
            Every criterion given must hold. Without --name no passphrase is needed: case numbers, \
            statuses and staff are clear. With --name, the name is matched against the keyed index that \
            `casevault case name` (or `case open --client-name`) keeps, with your copy of the vault's \
            search key: spellings that differ in vowels, doubled letters or common transliterations \
            (Mohammed, Muhammad, Mohamed) meet, and so do longer parts a letter apart (SECURITY.md §12e). \
            Every part you give must meet a part of the client's name; the closest matches come first. \
            Give - to read the name from standard input. Auditors do not search by name.

            Examples:
              casevault find --name "Amina Yusuf"
              casevault find --number CP-2024 --status O --manager mwangi
              casevault find --label "CP-2024-0042 [O]"
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Option(help: ArgumentHelp("The client's name, or part of it, however spelt (quoted; - reads it from standard input).", valueName: "name"))
    var name: String?

    @Option(help: ArgumentHelp("The start of the case number, e.g. CP-2024 or CP-2024-004.", valueName: "prefix"))
    var number: String?

    @Option(help: ArgumentHelp("A folder label as `casevault label` prints it, e.g. \"CP · 2024 · 0042 · O\".", valueName: "label"))
    var label: String?

    @OptionGroup var filterOptions: CaseFilterOptions

    @Option(help: ArgumentHelp("Show at most this many cases (default: all).", valueName: "n"))
    var limit: Int?

    @Flag(help: "Print JSON (Schemas/cli/find.schema.json) instead of a table.")
    var json = false

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if name == nil, number == nil, label == nil, filterOptions.isEmpty {
            throw ValidationError("give at least one of --name, --number, --label, --status, --category, --manager, --supervisor, --admitted, --tag (or use `casevault case list`)")
        }
        if let label, FindCommand.parseLabel(label) == nil {
            throw ValidationError("'\(label)' is not a folder label: expected CATEGORY · YEAR · CLIENT [· STATUS], as `casevault label` prints it")
        }
    }

    /// A folder label's parts: category, year, client number, and status
    /// when given ("CP · 2024 · 0042 · O", "CP-2024-0042 [O]").
    static func parseLabel(_ text: String) -> (prefix: String, status: CaseStatus?)? {
        let parts = text.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init)
        guard parts.count == 3 || parts.count == 4, let number = CaseNumber("\(parts[0].uppercased())-\(parts[1])-\(parts[2])") else {
            return nil
        }
        if parts.count == 4 {
            guard let status = CaseStatus(rawValue: parts[3].uppercased()) else { return nil }
            return (number.description, status)
        }
        return (number.description, nil)
    }

    func run() throws {
        var search = CaseSearch()
        search.filter = filterOptions.filter
        search.numberPrefix = number
        search.clientName = try name.map(clientName)
        if let label, let parsed = FindCommand.parseLabel(label) {
            if let number, !parsed.prefix.hasPrefix(number.uppercased()) {
                throw ValidationError("--number \(number) and --label \(label) name different cases")
            }
            search.numberPrefix = nil
            search.number = parsed.prefix
            if let labelled = parsed.status {
                if let status = filterOptions.status, status != labelled { throw ValidationError("--status \(status.rawValue) and the label's status \(labelled.rawValue) differ") }
                search.filter.status = labelled
            }
        }
        var found: [FoundCase]
        if name != nil {
            found = try vaultOptions.withUnlocked { vault, actor in try vault.findCases(search, by: actor) }
        } else {
            found = try vaultOptions.openVault().findCases(search, by: nil)
        }
        if let limit { found = Array(found.prefix(limit)) }
        if json {
            print(try JSONText.render(found.map { FindCommand.jsonObject($0, byName: name != nil) }))
            return
        }
        guard !found.isEmpty else {
            print(name != nil ? "No case matches (only clients named with `casevault case name` can be found by name)." : "No cases match.")
            return
        }
        var header = ["CASE", "STATUS", "MANAGER", "SUPERVISOR", "OPENED"]
        if name != nil { header.append("NAME MATCH") }
        let rows = found.map { item -> [String] in
            var row = [item.file.number.description, JSONShapes.statusCell(item.file),
                       item.file.manager.id, item.file.supervisor.id,
                       item.file.openedAt.formatted(.iso8601.year().month().day())]
            if let match = item.nameMatch { row.append(match == .asSpelt ? "as spelt" : "close") }
            return row
        }
        print(Table.render(header: header, rows: rows))
    }

    static func jsonObject(_ item: FoundCase, byName: Bool) -> [String: Any] {
        var object = JSONShapes.caseFile(item.file)
        object["label"] = item.file.label
        if byName {
            object["nameScore"] = item.nameScore ?? 0
            object["nameMatch"] = item.nameMatch?.rawValue ?? "close"
        }
        return object
    }
}
