import ArgumentParser
import CaseVault
import Foundation

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Supervision reports from the catalog alone (no passphrase, no decryption).",
        subcommands: [MonthlyReportCommand.self, StartTalliesCommand.self]
    )
}

struct StartTalliesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start-tallies",
        abstract: "Start the monthly report's running tallies in a vault made before them (an admin or project director, once).",
        discussion: """
            A vault made by this version keeps, in its signed state, running tallies of what the monthly report counts, so the \
            report reads only what it shows however many cases the vault holds. A vault made before them is counted case by \
            case until someone signs this one event, which counts every case from the signed state (a few seconds per 10,000 \
            cases). Month-end caseloads before it count each case under the manager and supervisor it has now: the history keeps no \
            earlier ones.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            let cases = try vault.startReportTallies(by: actor)
            print("The monthly report's tallies are kept from now on; \(cases) case\(cases == 1 ? "" : "s") counted.")
        }
    }
}

struct MonthlyReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monthly",
        abstract: "The monthly supervision report.",
        discussion: """
            Cases by status and by category at the month's end; cases opened, closed, aged out, reopened, \
            imported from and transferred to another vault in the month (a case transferred away counts no longer, an \
            imported one from its import); each case manager's open, inactive and aged-out cases against the manual's recommended 18, and each \
            supervisor's case managers against at most 5, breaches flagged; cases tagged case-of-concern; what \
            'casevault due' lists as of the month's last day (aged-out cases closing and closures awaiting approval case by case; \
            idle cases and open cases without a recent home visit counted per case manager). Months and days are UTC.

            A vault keeps running tallies of these counts in its signed state, so the report reads only what it shows; \
            --recount counts them again from every case instead (slower: a check of the tallies). A vault made before \
            the tallies is counted case by case until 'casevault report start-tallies'.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case md, csv, json }

    @OptionGroup var vaultOptions: VaultOptions

    @Option(help: ArgumentHelp("The month, YYYY-MM.", valueName: "month"))
    var month: String

    @Option(help: ArgumentHelp("md (default), csv or json.", valueName: "format"))
    var format: Format = .md

    @Flag(help: "Print JSON (Schemas/cli/report-monthly.schema.json): the same as --format json.")
    var json = false

    @Flag(help: "Count from every case rather than from the vault's tallies.")
    var recount = false

    func validate() throws {
        if json && format != .md && format != .json { throw ValidationError("--json and --format \(format.rawValue) disagree") }
    }

    func run() throws {
        let report = try vaultOptions.openVault().monthlyReport(month: month, recount: recount)
        switch json ? .json : format {
        case .md: print(markdown(report), terminator: "")
        case .csv: print(csv(report), terminator: "")
        case .json: print(try JSONText.render(json(report)))
        }
    }

    func markdown(_ r: SupervisionReport) -> String {
        var out = "# Supervision report, \(r.month)\n\n## Cases at the end of the month\n\n| status | cases |\n|---|---|\n"
        for c in r.byStatus { out += "| \(c.key) | \(c.count) |\n" }
        out += "\n| category and status | cases |\n|---|---|\n"
        for c in r.byCategoryAndStatus { out += "| \(c.key) | \(c.count) |\n" }
        out += "\n## During the month\n\n"
        for (label, list) in [("Opened", r.opened), ("Closed", r.closed), ("Aged out", r.agedOut), ("Reopened", r.reopened),
                              ("Transferred in from another vault", r.transferredIn), ("Transferred to another vault", r.transferredOut)] {
            out += "- \(label): \(list.count)\(list.isEmpty ? "" : " (" + list.joined(separator: ", ") + ")")\n"
        }
        out += "\n## Caseloads (recommended at most \(SupervisionReport.casesPerManager) per case manager)\n\n| case manager | cases | |\n|---|---|---|\n"
        for l in r.caseloads { out += "| \(l.name) (\(l.staffID)) | \(l.count) | \(l.breached ? "**over**" : "") |\n" }
        out += "\n## Supervision (at most \(SupervisionReport.managersPerSupervisor) case managers per supervisor)\n\n| supervisor | case managers | |\n|---|---|---|\n"
        for l in r.supervision { out += "| \(l.name) (\(l.staffID)) | \(l.count) | \(l.breached ? "**over**" : "") |\n" }
        out += "\n## Cases of concern\n\n" + (r.casesOfConcern.isEmpty ? "None.\n" : r.casesOfConcern.map { "- \($0)\n" }.joined())
        out += "\n## Legal holds\n\n" + (r.holds.isEmpty ? "None.\n"
            : r.holds.map { "- \($0.caseNumber): since \($0.at.formatted(.iso8601)) by \($0.by): \(TerminalText.escape($0.reason))\n" }.joined())
        out += "\n## Due\n\nAs `casevault due` lists it as of the month's last day, from the vault's current state.\n\n"
        out += r.overdue.isEmpty ? "No aged-out case closing and no closure awaiting approval.\n"
            : r.overdue.map { "- \($0.caseNumber): \($0.kind.rawValue): \(TerminalText.escape($0.detail))\n" }.joined()
        if r.overdueByManager.isEmpty {
            out += "\nNo idle case (nothing filed for 90 days) and no open case without a home visit for 30 days.\n"
        } else {
            out += "\n| case manager | idle (nothing filed for 90 days) | open, no home visit for 30 days |\n|---|---|---|\n"
            for c in r.overdueByManager { out += "| \(c.name) (\(c.staffID)) | \(c.idle) | \(c.noRecentVisit) |\n" }
            out += "\n`casevault due --as-of DAY` lists them.\n"
        }
        out += r.talliesSince.map { "\n_From the vault's signed tallies, kept since event \($0)._\n" } ?? "\n_Counted from every case._\n"
        return out
    }

    func csv(_ r: SupervisionReport) -> String {
        func field(_ text: String) -> String {
            text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
        }
        var rows = [["section", "key", "value", "flag"]]
        for c in r.byStatus { rows.append(["status", c.key, "\(c.count)", ""]) }
        for c in r.byCategoryAndStatus { rows.append(["category-status", c.key, "\(c.count)", ""]) }
        for (label, list) in [("opened", r.opened), ("closed", r.closed), ("aged-out", r.agedOut), ("reopened", r.reopened),
                              ("transferred-in", r.transferredIn), ("transferred-out", r.transferredOut)] {
            rows.append(["month", label, "\(list.count)", ""])
            for number in list { rows.append([label, number, "", ""]) }
        }
        for l in r.caseloads { rows.append(["caseload", l.staffID, "\(l.count)", l.breached ? "over" : ""]) }
        for l in r.supervision { rows.append(["supervision", l.staffID, "\(l.count)", l.breached ? "over" : ""]) }
        for number in r.casesOfConcern { rows.append(["case-of-concern", number, "", ""]) }
        for item in r.overdue { rows.append(["due", item.caseNumber, item.kind.rawValue, TerminalText.escape(item.detail)]) }
        for c in r.overdueByManager {
            rows.append(["due-idle", c.staffID, "\(c.idle)", ""])
            rows.append(["due-no-recent-visit", c.staffID, "\(c.noRecentVisit)", ""])
        }
        for hold in r.holds { rows.append(["hold", hold.caseNumber, hold.by, TerminalText.escape(hold.reason)]) }
        return rows.map { $0.map(field).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }

    func json(_ r: SupervisionReport) -> [String: Any] {
        ["month": r.month,
         "byStatus": Dictionary(uniqueKeysWithValues: r.byStatus.map { ($0.key, $0.count) }),
         "byCategoryAndStatus": Dictionary(uniqueKeysWithValues: r.byCategoryAndStatus.map { ($0.key, $0.count) }),
         "opened": r.opened, "closed": r.closed, "agedOut": r.agedOut, "reopened": r.reopened,
         "transferredIn": r.transferredIn, "transferredOut": r.transferredOut,
         "caseloads": r.caseloads.map { ["manager": $0.staffID, "cases": $0.count, "over": $0.breached] },
         "supervision": r.supervision.map { ["supervisor": $0.staffID, "caseManagers": $0.count, "over": $0.breached] },
         "casesOfConcern": r.casesOfConcern,
         "holds": r.holds.map { ["case": $0.caseNumber, "at": $0.at.formatted(.iso8601), "by": $0.by, "reason": $0.reason] },
         "due": r.overdue.map { ["case": $0.caseNumber, "kind": $0.kind.rawValue, "date": $0.date as Any, "detail": $0.detail] },
         "dueByManager": r.overdueByManager.map { ["manager": $0.staffID, "idle": $0.idle, "noRecentVisit": $0.noRecentVisit] },
         "talliesSince": r.talliesSince as Any]
    }
}
