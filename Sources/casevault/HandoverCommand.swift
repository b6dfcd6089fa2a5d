import ArgumentParser
import CaseVault
import Foundation

struct HandoverCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "handover",
        abstract: "Hand a departing member's cases over (manual §5.2.4): check, draft, start, complete.",
        discussion: """
            1. `handover check --from ID`: what blocks a clean handover, from metadata alone.
            2. `handover draft --from ID --to ID --out DIR`: one handover form per case, with casevault's part filled in; \
            the caseworkers complete the rest (the child's name, a case summary, the briefings, two signatures).
            3. `handover start --from ID --to ID --forms DIR`: the incoming member is granted the case's tiers and \
            shadows the outgoing one (at least three months); each form is filed, and printed under its stamp.
            4. `handover complete --cases N…`: after the shadowing (or --early --reason), the outgoing member's keys \
            rotate away and the incoming member becomes the case's manager (or supervisor).
            A handover that will not complete (the incoming member left, or was the wrong one) ends with \
            `handover cancel NUMBER --reason TEXT`.
            """,
        subcommands: [HandoverCheckCommand.self, HandoverDraftCommand.self, HandoverStartCommand.self, HandoverCompleteCommand.self,
                      HandoverCancelCommand.self]
    )
}

struct HandoverCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "List, per case of a departing member, what blocks a clean handover (no passphrase, no decryption).",
        discussion: """
            For every case the member manages or supervises that is neither closed nor transferred to another vault \
            (or those named with --cases): forms \
            its status requires that have no current version (defaults: intake, assessment and care-plan for O, \
            transition-plan for AO; change with --require STATUS=TYPE,TYPE…); no home-visit or monitoring form for \
            --visit-days (30) in an O or AO case; a current care plan older than --care-plan-days (90); a closure \
            awaiting approval; and documents others filed since the member last read them (from the signed reads in \
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

/// The options `draft` and `start` share.
struct HandoverAssignment: ParsableArguments {
    @Option(help: ArgumentHelp("The outgoing member: the cases' manager, or their supervisor.", valueName: "id"))
    var from: String

    @Option(help: ArgumentHelp("The incoming member: a case manager (or a case supervisor, to change supervisor).", valueName: "id"))
    var to: String

    @Option(parsing: .upToNextOption, help: ArgumentHelp("Only these cases (default: every open case of --from).", valueName: "number"))
    var cases: [String] = []

    @Option(help: ArgumentHelp("Last day of the shadowing (default and minimum: three months from today; for start, the drafted form's).",
                               valueName: "YYYY-MM-DD"))
    var shadowUntil: String?

    @Option(help: ArgumentHelp("Why: \(HandoverReason.allCases.map(\.rawValue).joined(separator: ", ")) (default: \(HandoverReason.leavingTheOrganisation.rawValue); for start, the drafted form's).",
                               valueName: "reason"),
            transform: { try parseEnum(HandoverReason.self, $0) })
    var reason: HandoverReason?
}

struct HandoverDraftCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "draft",
        abstract: "Write one handover form per case, with casevault's part filled in (no passphrase).",
        discussion: """
            Writes DIR/<case number>.json for each case: the date, both members, the shadowing period, whether the \
            file is up to date and what is pending (from `handover check`), and empty places for the child's name, a \
            case summary, the briefings and the signatures, which the caseworkers fill in. The drafts hold no case \
            content until then; once filled, they are the form's plaintext: keep them on an encrypted disk and delete \
            them after `handover start` filed them.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions
    @OptionGroup var assignment: HandoverAssignment

    @Option(help: ArgumentHelp("A folder for the drafts (created, mode 0700; existing drafts are not overwritten).", valueName: "dir"))
    var out: String

    func run() throws {
        let vault = try vaultOptions.openVault()
        let drafts = try vault.handoverDrafts(from: assignment.from, to: assignment.to, cases: assignment.cases.isEmpty ? nil : assignment.cases,
                                              shadowUntil: assignment.shadowUntil, reason: assignment.reason ?? .leavingTheOrganisation)
        for path in try Vault.writeHandoverDrafts(drafts, to: out) { print("wrote \(path)") }
        print("Fill in childName, caseSummary, the checklist's briefings and at least two signatures in each, then run `casevault handover start ... --forms \(out)`.")
    }
}

struct HandoverStartCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start the handover: grant the incoming member, record the shadowing, file each handover form.",
        discussion: """
            By the cases' supervisor or a project director. Every form in --forms is completed with casevault's part \
            and validated first; nothing is signed while one is missing or invalid. Then, per case: the signed \
            case.handover-started, the incoming member granted each tier you hold (a project director holds no \
            confidential tier: the supervisor grants it with `casevault case grant`), and the form filed and printed \
            under its stamp. The outgoing member keeps the case until `handover complete`. Safe to run again after an \
            interruption. Each form is filed as drafted: its reason and shadowing end are taken from it unless \
            --reason or --shadow-until is given, and a command that names other members, another reason or another \
            end than the form is refused, as is a form whose end is now less than three months away (change the \
            form and have it signed again, or draft it again).
            """
    )

    @OptionGroup var vaultOptions: VaultOptions
    @OptionGroup var assignment: HandoverAssignment

    @Option(help: ArgumentHelp("The folder of completed handover forms (<case number>.json, from `handover draft`).", valueName: "dir"))
    var forms: String

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            let cases = try vault.handoverReadiness(of: assignment.from, cases: assignment.cases.isEmpty ? nil : assignment.cases).map(\.caseNumber)
            let drafts = try Vault.readHandoverDrafts(in: forms, cases: cases)
            let started = try vault.startHandover(from: assignment.from, to: assignment.to, cases: cases, shadowUntil: assignment.shadowUntil,
                                                  reason: assignment.reason, drafts: drafts, by: actor)
            for result in started {
                let h = result.handover
                print("\(h.caseNumber): \(h.from) hands the case (as \(h.role)) to \(h.to), who shadows until \(h.shadowUntil).")
                if !result.granted.isEmpty { print("  granted \(h.to): \(result.granted.map(\.rawValue).joined(separator: ", ")) tier") }
                for tier in result.awaitingGrant {
                    Output.warning("\(h.caseNumber): the \(tier.rawValue) tier awaits a grant by its supervisor: casevault case grant \(h.caseNumber) --tier \(tier.rawValue) --member \(h.to) --reason …")
                }
                if let rendered = result.rendered { print(rendered) }
            }
        }
    }
}

struct HandoverCompleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "complete",
        abstract: "Complete handovers: the outgoing member's keys rotate away, the incoming member takes the cases.",
        discussion: """
            By the cases' supervisor, once the shadowing is over (or with --early --reason; a handover whose outgoing \
            member left the staff completes without waiting, its departure signed as the reason); a supervisor's own \
            handover by the incoming supervisor. Whoever completes it makes the new keys, so a project director, \
            who holds no confidential tier, completes only a handover whose outgoing member holds none (as after \
            `staff leave`). Every case is checked first: if one cannot complete, none does. \
            Then per case, in one transaction: every tier the outgoing member holds rotates to a new key without them (the \
            file keys re-sealed when you hold the tier), and the incoming member becomes the case's manager (or \
            supervisor). What is filed afterwards opens with no key the outgoing member ever had.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Option(parsing: .upToNextOption, help: ArgumentHelp("The cases whose handover completes.", valueName: "number"))
    var cases: [String]

    @Flag(help: "End the shadowing before its last day (needs --reason).")
    var early = false

    @Option(help: ArgumentHelp("Why it ends early (kept in the signed log).", valueName: "text"))
    var reason: String?

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            // Each case as it completes, so that an error part-way leaves those done on the screen.
            _ = try vault.completeHandover(cases: cases, early: early, reason: reason, by: actor) { result in
                let h = result.handover
                let early = result.reason.map { " (shadowing ended early: \(TerminalText.escape($0)))" } ?? ""
                print("\(h.caseNumber): \(h.to) is now its \(h.role)\(early); \(h.from) holds none of its keys.")
                result.rotations.forEach(printRotation)
            }
        }
    }
}

struct HandoverCancelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a handover under way: the incoming member's keys rotate away; the outgoing member stays.",
        discussion: """
            By the case's supervisor or a project director, for a handover that will not complete (the incoming \
            member left, or was the wrong one). Every tier the incoming member holds rotates to a new key without \
            them, then the signed case.handover-cancelled ends the handover; start another one afterwards.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case number.", valueName: "number"), completion: Completions.caseNumbers)
    var number: String

    @Option(help: ArgumentHelp("Why (kept in the signed log).", valueName: "text"))
    var reason: String

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            let rotations = try vault.cancelHandover(case: number, reason: reason, by: actor)
            print("Cancelled the handover of \(number.uppercased()).")
            rotations.forEach(printRotation)
        }
    }
}
