import ArgumentParser
import CaseVault
import Foundation

struct CaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "case",
        abstract: "Open, list and show cases (client folders); change their status.",
        subcommands: [CaseOpenCommand.self, CaseListCommand.self, CaseShowCommand.self, CaseNameCommand.self, CaseStatusCommand.self,
                      CaseReopenCommand.self, CaseApproveCommand.self, CaseExtendCommand.self, CaseTagCommand.self,
                      CaseGrantCommand.self, CaseRevokeCommand.self, CaseRotateCommand.self, CaseCancelTransferCommand.self]
    )
}

struct CaseOpenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "open",
        abstract: "Open a case (case supervisors, project directors, admins).",
        discussion: """
            The case number is CATEGORY-YEAR-CLIENT, e.g. CP-2024-0042; the client number is one more \
            than the highest in the vault unless --client is given, and is unique in the vault. The case starts with status O. \
            Its team-tier key is sealed to the Case Manager, the Case Supervisor, the recovery key and the \
            vault's team-tier roles (project directors); its confidential-tier key to the Case Manager, the \
            Case Supervisor and the recovery key only.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Option(help: ArgumentHelp("Case category, e.g. CP, GBV, PWSN, UASC.", valueName: "category"))
    var category: String

    @Option(help: ArgumentHelp("Year of admission.", valueName: "year"))
    var admitted: Int

    @Option(help: ArgumentHelp("Client number (default: one more than the highest in the vault).", valueName: "number"))
    var client: Int?

    @Option(help: ArgumentHelp("Staff id of the Case Manager.", valueName: "id"), completion: Completions.staffIDs)
    var manager: String

    @Option(help: ArgumentHelp("Staff id of the Case Supervisor.", valueName: "id"), completion: Completions.staffIDs)
    var supervisor: String

    @Option(help: ArgumentHelp("The client's name, so `casevault find --name` finds the case; only keyed tokens of it are kept (see `case name`).",
                               valueName: "name"))
    var clientName: String?

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            let opened = try vault.openCase(category: category, admitted: admitted, clientNumber: client,
                                            managerID: manager, supervisorID: supervisor, by: actor)
            print("Opened case \(opened.label).")
            if let clientName {
                do {
                    printNaming(try vault.nameClient(of: opened.number.description, name: try casevault.clientName(clientName), by: actor))
                } catch {
                    // The case is open (that is committed); the command still fails, so a script notices.
                    Output.warning("the case is open, but its client's name was not indexed; run `casevault case name \(opened.number) NAME`")
                    throw error
                }
            }
            print("  case manager:      \(opened.manager.name) (\(opened.manager.id))")
            print("  case supervisor:   \(opened.supervisor.name) (\(opened.supervisor.id))")
            printHolders(try vault.holders(of: opened.number.description))
            for warning in try vault.assignmentWarnings(managerID: manager, supervisorID: supervisor) { Output.warning(warning) }
        }
    }
}

/// `case name`: records a client's name as keyed tokens, so `find --name`
/// finds the case; the name itself is kept nowhere.
struct CaseNameCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "name",
        abstract: "Index a case's client name so `casevault find --name` finds it (the name itself is not kept).",
        discussion: """
            The name is cut into parts and each part turned into keyed tokens (its phonetic skeleton and, \
            for longer parts, the skeleton less one letter), under the vault's search key and the case \
            number; only those tokens, padded to a fixed number, are stored and signed (SECURITY.md §12e). \
            Quote a name of several parts: casevault case name CP-2024-0042 "Amina Yusuf". Give - to read \
            the name from standard input, so it stays out of the shell's history and the process list. \
            Running it again replaces the index. Records officers, project directors and admins name any \
            case; a case manager or supervisor their own. The first naming in a vault creates its search \
            key and seals it to every member who may search.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case number.", valueName: "number"), completion: Completions.caseNumbers)
    var number: String

    @Argument(help: ArgumentHelp("The client's name as the intake form spells it, quoted; - reads it from standard input.", valueName: "name"))
    var name: String

    func run() throws {
        let name = try clientName(self.name)
        try vaultOptions.withUnlocked { vault, actor in
            printNaming(try vault.nameClient(of: number, name: name, by: actor))
        }
    }
}

/// A client's name as given, or its first line from standard input for `-`.
func clientName(_ given: String) throws -> String {
    guard given == "-" else { return given }
    guard let line = readLine(strippingNewline: true), !line.isEmpty else {
        throw CommandFailure(message: "no name on standard input", hint: nil, code: .usage)
    }
    return line
}

func printNaming(_ naming: ClientNaming) {
    if naming.createdSearchKey { print("Created the vault's search key.") }
    if !naming.sharedWith.isEmpty { print("Sealed the search key to \(naming.sharedWith.joined(separator: ", ")).") }
    print("Indexed the client's name of \(naming.caseNumber) (only keyed tokens are kept).")
    if naming.droppedKeys > 0 {
        Output.warning("the name is long: \(naming.droppedKeys) of its spellings did not fit the index, and its last parts may not be found")
    }
}

func printHolders(_ holders: [(tier: Tier, holder: String)]) {
    for tier in Tier.allCases {
        let names = holders.filter { $0.tier == tier }.map { $0.holder == "recovery" ? "recovery key" : String($0.holder.dropFirst(6)) }
        let label = tier == .team ? "team tier:        " : "confidential tier:"
        print("  \(label) \(names.joined(separator: ", "))")
    }
}

/// The filters `case list` and `find` share.
struct CaseFilterOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Only cases with this status: O, IA, AO or C.", valueName: "status"),
            transform: { try parseEnum(CaseStatus.self, $0) })
    var status: CaseStatus?

    @Option(help: ArgumentHelp("Only this category.", valueName: "category"))
    var category: String?

    @Option(help: ArgumentHelp("Only cases this Case Manager holds.", valueName: "id"), completion: Completions.staffIDs)
    var manager: String?

    @Option(help: ArgumentHelp("Only cases this Case Supervisor holds.", valueName: "id"), completion: Completions.staffIDs)
    var supervisor: String?

    // --admitted, as `case open` names the year of admission (it was --year here).
    @Option(help: ArgumentHelp("Only cases admitted this year.", valueName: "year"))
    var admitted: Int?

    @Option(help: ArgumentHelp("Only cases with this tag, e.g. case-of-concern.", valueName: "tag"))
    var tag: String?

    var filter: CaseFilter {
        var filter = CaseFilter()
        filter.status = status
        filter.category = category
        filter.managerID = manager
        filter.supervisorID = supervisor
        filter.year = admitted
        filter.tag = tag
        return filter
    }

    var isEmpty: Bool { status == nil && category == nil && manager == nil && supervisor == nil && admitted == nil && tag == nil }
}

struct CaseListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List cases (no passphrase needed: case numbers, statuses and staff names are clear)."
    )

    @OptionGroup var vaultOptions: VaultOptions

    @OptionGroup var filterOptions: CaseFilterOptions

    @Flag(help: "Print JSON (Schemas/cli/case-list.schema.json) instead of a table.")
    var json = false

    func run() throws {
        let filter = filterOptions.filter
        let cases = try vaultOptions.openVault().cases(matching: filter)
        if json {
            print(try JSONText.render(cases.map(JSONShapes.caseFile)))
            return
        }
        guard !cases.isEmpty else {
            print("No cases match.")
            return
        }
        print(Table.render(header: ["CASE", "STATUS", "MANAGER", "SUPERVISOR", "OPENED"],
                           rows: cases.map { [$0.number.description, JSONShapes.statusCell($0),
                                              $0.manager.id, $0.supervisor.id,
                                              $0.openedAt.formatted(.iso8601)] }))
    }
}

struct CaseShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a case: its label, staff, key holders, and the latest version of each document."
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case number, e.g. CP-2024-0042.", valueName: "number"), completion: Completions.caseNumbers)
    var number: String

    @Flag(help: "Print JSON (Schemas/cli/case-show.schema.json) instead of text.")
    var json = false

    func run() throws {
        let vault = try vaultOptions.openVault()
        let file = try vault.caseFile(number)
        if json {
            print(try JSONText.render(try jsonObject(file, vault: vault)))
            return
        }
        print("Case \(file.label)")
        print("  category:          \(file.number.category)")
        print("  year of admission: \(file.number.year)")
        print("  client number:     \(file.number.clientNumber)")
        print("  status:            \(file.status.rawValue) (\(file.status.displayName))")
        print("  case manager:      \(file.manager.name) (\(file.manager.id))")
        print("  case supervisor:   \(file.supervisor.name) (\(file.supervisor.id))")
        print("  opened:            \(file.openedAt.formatted(.iso8601)) by \(file.openedBy)")
        if let disposal = try vault.disposal(of: number) {
            print("  disposed of:       \(disposal.at) by \(disposal.by) under retention policy v\(disposal.policyVersion) (\(disposal.rule)), event \(disposal.seq)")
            print("                     every key of the case is erased; its documents below are a record of what was destroyed")
        }
        printHolders(try vault.holders(of: number))
        for (tier, generation, older) in try vault.keyGenerations(of: number) where generation > 1 || !older.isEmpty {
            let pending = older.isEmpty ? "" : "; versions under generation \(older.map(String.init).joined(separator: ", ")) await re-sealing by a holder (casevault case rotate)"
            print(("  \(tier.rawValue) key:").padding(toLength: 21, withPad: " ", startingAt: 0) + "generation \(generation)\(pending)")
        }
        let (transferred, imported) = try vault.transfers(of: number)
        if let imported {
            print("  imported:          from vault \(imported.fromVault) (its event \(imported.fromSeq)) on \(imported.at.prefix(10)) by \(imported.by)")
        }
        if let gone = transferred {
            print("  TRANSFERRED:       to '\(gone.toMember)' of vault \(gone.toVault) on \(gone.at.prefix(10)) by \(gone.by): \(TerminalText.escape(gone.reason))")
            print("                     this vault's copy is read-only")
        }
        if let handover = try vault.handover(of: number) {
            print("  handover:          \(handover.from) → \(handover.to) (\(handover.role)), shadowing until \(handover.shadowUntil); started \(handover.startedAt.prefix(10)) by \(handover.startedBy)")
        }
        if let hold = try vault.hold(of: number) {
            print("  legal hold:        since \(hold.at.formatted(.iso8601)) by \(hold.by): \(TerminalText.escape(hold.reason))")
        }
        let tags = try vault.tags(of: number)
        if !tags.isEmpty { print("  tags:              \(tags.joined(separator: ", "))") }
        if let closing = try vault.agedOutClosingDay(of: number) { print("  aged out, closes: \(closing)") }
        let history = try vault.statusHistory(of: number)
        if let pending = history.pending {
            print("  closure requested: \(pending.at.formatted(.iso8601)) by \(pending.requestedBy), awaiting \(pending.approver): \(TerminalText.escape(pending.reason))")
        }
        if !history.changes.isEmpty {
            print("Status changes:")
            print(Table.render(header: ["  DATE", "MOVE", "BY", "REASON"], rows: history.changes.map { change in
                let by = change.requestedBy.map { "\(change.by) (asked by \($0))" } ?? change.by
                return ["  " + change.at.formatted(.iso8601), "\(change.from.rawValue) → \(change.to.rawValue)", by,
                        TerminalText.escape(change.reason)]
            }))
        }
        let moved = try vault.movedDocuments(of: number)
        if !moved.isEmpty {
            print("Moved to other cases:")
            for move in moved {
                print("  '\(TerminalText.escape(move.document))' → \(move.toCase) '\(TerminalText.escape(move.toDocument))' on \(move.at.formatted(.iso8601)) by \(move.by): \(TerminalText.escape(move.reason))")
            }
        }
        let documents = try vault.latestVersions(caseNumber: number)
        guard !documents.isEmpty else {
            print("No documents yet.")
            return
        }
        print("Documents (current version):")
        print(Table.render(header: ["  DOCUMENT", "TYPE", "TIER", "VERSION", "SIZE", "DATE", "STATUS", "FILED BY"],
                           rows: documents.map { ["  " + $0.document, $0.type, $0.tier.rawValue,
                                                  "\($0.version)" + ($0.withdrawal == nil ? "" : " (withdrawn)"), "\($0.size)",
                                                  $0.stamp.date, $0.stamp.caseStatus.rawValue, $0.stamp.filedBy] }))
    }
}

extension CaseShowCommand {
    func jsonObject(_ file: CaseFile, vault: Vault) throws -> [String: Any] {
        var object = JSONShapes.caseFile(file)
        object["label"] = file.label
        object["managerName"] = file.manager.name
        object["supervisorName"] = file.supervisor.name
        let holders = try vault.holders(of: number)
        object["holders"] = Dictionary(uniqueKeysWithValues: Tier.allCases.map { tier in
            (tier.rawValue, holders.filter { $0.tier == tier }.map(\.holder))
        })
        object["keyGenerations"] = try vault.keyGenerations(of: number).map {
            ["tier": $0.tier.rawValue, "generation": $0.generation, "awaitingResealing": $0.awaitingResealing] as [String: Any]
        }
        object["disposal"] = try vault.disposal(of: number).map {
            ["at": $0.at, "by": $0.by, "policyVersion": $0.policyVersion, "rule": $0.rule, "seq": $0.seq] as [String: Any]
        } as Any
        let (transferred, imported) = try vault.transfers(of: number)
        object["transferred"] = transferred.map {
            ["at": $0.at, "by": $0.by, "toVault": $0.toVault, "toMember": $0.toMember, "reason": $0.reason, "seq": $0.seq] as [String: Any]
        } as Any
        object["imported"] = imported.map { ["at": $0.at, "by": $0.by, "fromVault": $0.fromVault, "fromSeq": $0.fromSeq, "seq": $0.seq] as [String: Any] } as Any
        object["handover"] = try vault.handover(of: number).map {
            ["role": $0.role, "from": $0.from, "to": $0.to, "shadowUntil": $0.shadowUntil, "startedAt": $0.startedAt,
             "startedBy": $0.startedBy] as [String: Any]
        } as Any
        object["hold"] = try vault.hold(of: number).map { ["at": $0.at.formatted(.iso8601), "by": $0.by, "reason": $0.reason] as [String: Any] } as Any
        object["tags"] = try vault.tags(of: number)
        object["agedOutClosesOn"] = try vault.agedOutClosingDay(of: number) as Any
        let history = try vault.statusHistory(of: number)
        object["pendingClosure"] = history.pending.map {
            ["at": $0.at.formatted(.iso8601), "requestedBy": $0.requestedBy, "approver": $0.approver, "reason": $0.reason,
             "seq": $0.seq] as [String: Any]
        } as Any
        object["statusChanges"] = history.changes.map {
            ["seq": $0.seq, "from": $0.from.rawValue, "to": $0.to.rawValue, "at": $0.at.formatted(.iso8601), "by": $0.by,
             "reason": $0.reason, "requestedBy": $0.requestedBy as Any] as [String: Any]
        }
        object["movedAway"] = try vault.movedDocuments(of: number).map {
            ["document": $0.document, "toCase": $0.toCase, "toDocument": $0.toDocument, "at": $0.at.formatted(.iso8601), "by": $0.by,
             "versions": $0.versions, "reason": $0.reason] as [String: Any]
        }
        object["documents"] = try vault.latestVersions(caseNumber: number).map(JSONShapes.version)
        return object
    }
}

struct CaseStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Change a case's status (its manager or supervisor).",
        discussion: """
            Allowed moves (manual §5.2): O→IA, IA→O, O→AO, and O, IA or AO → C. A closed case is reopened \
            with 'casevault case reopen'. Closing needs a filed closure form ('casevault file NUMBER --form \
            closure FILE.json'). The case's supervisor closes it; its manager asks the supervisor with \
            --approved-by SUPERVISOR, and the case closes when the supervisor runs 'casevault case approve NUMBER'. \
            Versions filed afterwards are stamped with the new status. Every change is a signed event with its reason.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case number, e.g. CP-2024-0042.", valueName: "number"), completion: Completions.caseNumbers)
    var number: String

    @Argument(help: ArgumentHelp("The new status: O, IA, AO or C.", valueName: "status"),
              transform: { try parseEnum(CaseStatus.self, $0) })
    var status: CaseStatus

    @Option(help: ArgumentHelp("Why (kept in the signed history).", valueName: "text"))
    var reason: String

    @Option(help: ArgumentHelp("Closing as the case manager: the case supervisor who must approve.", valueName: "id"))
    var approvedBy: String?

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            switch try vault.changeStatus(of: number, to: status, reason: reason, approvedBy: approvedBy, by: actor) {
            case .changed(let file):
                print("Case \(file.label): status is now \(file.status.rawValue) (\(file.status.displayName)).")
            case .awaitingApproval(let request):
                print("Closure of \(request.caseNumber) requested; it awaits the approval of \(request.approver).")
                print("  \(request.approver) approves with: casevault case approve \(request.caseNumber)")
            }
        }
    }
}

struct CaseReopenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reopen",
        abstract: "Reopen a closed case (C → O; its supervisor)."
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case number, e.g. CP-2024-0042.", valueName: "number"), completion: Completions.caseNumbers)
    var number: String

    @Option(help: ArgumentHelp("Why (kept in the signed history).", valueName: "text"))
    var reason: String

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            let file = try vault.reopenCase(number, reason: reason, by: actor)
            print("Case \(file.label): reopened, status is now O (open).")
        }
    }
}

struct CaseApproveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Approve the closure a case's manager asked for (the supervisor it names).",
        discussion: "The case closes; the signed history keeps who asked, who approved, and why."
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case number, e.g. CP-2024-0042.", valueName: "number"), completion: Completions.caseNumbers)
    var number: String

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            let file = try vault.approveClosure(of: number, by: actor)
            print("Case \(file.label): closure approved, status is now C (closed).")
        }
    }
}

struct CaseTagCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tag",
        abstract: "Put a tag on a case or take it off (its manager or supervisor, or a project director).",
        discussion: """
            Tags flag cases for attention, e.g. case-of-concern, high-risk: 1 to 32 characters of a-z, 0-9 and '-'. \
            'casevault case list --tag TAG' lists the cases with one. Each change is a signed event.
            """
    )

    enum Action: String, ExpressibleByArgument, CaseIterable { case add, remove }

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case number, e.g. CP-2024-0042.", valueName: "number"), completion: Completions.caseNumbers)
    var number: String

    @Argument(help: ArgumentHelp("add or remove.", valueName: "action"))
    var action: Action

    @Argument(help: ArgumentHelp("The tag, e.g. case-of-concern.", valueName: "tag"))
    var tag: String

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            try vault.tagCase(number, tag, adding: action == .add, by: actor)
            let tags = try vault.tags(of: number)
            print("\(action == .add ? "Tagged" : "Untagged") \(number) \(tag); its tags: \(tags.isEmpty ? "none" : tags.joined(separator: ", ")).")
        }
    }
}

struct CaseExtendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extend",
        abstract: "Extend an aged-out case's closing date (its supervisor).",
        discussion: """
            An aged-out (AO) case closes six months after it became AO (manual §5.2: "unless otherwise agreed"). \
            The supervisor moves that day later, with a reason; 'casevault due' lists what is about to close.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case number, e.g. CP-2024-0042.", valueName: "number"), completion: Completions.caseNumbers)
    var number: String

    @Option(help: ArgumentHelp("The new closing day, YYYY-MM-DD.", valueName: "date"))
    var until: String

    @Option(help: ArgumentHelp("Why (kept in the signed history).", valueName: "text"))
    var reason: String

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            try vault.extendAgedOut(number, until: until, reason: reason, by: actor)
            print("Case \(number) now closes on \(try vault.agedOutClosingDay(of: number) ?? until).")
        }
    }
}
