import ArgumentParser
import CaseVault
import Foundation

struct RetentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention",
        abstract: "The retention policy, what it says is due, and disposal by crypto-shredding.",
        discussion: """
            A closed case due under the policy is disposed of in two steps by different people: approvers named by the \
            policy's rule sign 'retention approve', then an admin or project director runs 'retention apply --approved-by ID'. \
            Disposal erases every sealed copy of the case's keys, then its objects; the case's record stays, and \
            'retention certificate NUMBER' prints the signed certificate. A legal hold ('casevault hold') stops all of it.
            """,
        subcommands: [RetentionPolicyCommand.self, RetentionPlanCommand.self, RetentionApproveCommand.self, RetentionApplyCommand.self,
                      RetentionCertificateCommand.self]
    )
}

struct RetentionPolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Set or show the retention policy.",
        subcommands: [RetentionPolicySetCommand.self, RetentionPolicyShowCommand.self]
    )
}

struct RetentionPolicySetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Set the next version of the retention policy (admins, project directors).",
        discussion: """
            FILE must be valid against Schemas/retention-policy.schema.json (see Schemas/examples/retention-policy.json), \
            name this vault's id and use its categories; every problem is listed (exit 65). The file is kept in the vault \
            and the change is a signed event; earlier versions stay in the history.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The policy, a JSON file.", valueName: "file"))
    var file: String

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else { throw VaultError.notFound("cannot read \(file)") }
        try vaultOptions.withUnlocked { vault, actor in
            let version = try vault.setRetentionPolicy(Array(data), by: actor)
            print("Retention policy version \(version) is in force.")
        }
    }
}

struct RetentionPolicyShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print the policy in force (no passphrase needed).")

    @OptionGroup var vaultOptions: VaultOptions

    func run() throws {
        guard let policy = try vaultOptions.openVault().retentionPolicy() else {
            print("No retention policy is set.")
            return
        }
        print("Retention policy version \(policy.version):")
        print(TerminalText.escape(String(decoding: policy.bytes, as: UTF8.self), keepingNewlines: true))
    }
}

struct RetentionPlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "List what the policy says of each closed case: due for disposal, for review, or kept, and why.",
        discussion: "From the catalog alone; nothing is destroyed. Legal holds ('casevault hold', and those in the policy) keep a case whatever its dates."
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Option(help: ArgumentHelp("As of this day (YYYY-MM-DD; default today).", valueName: "date"))
    var asOf: String?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        let date = try asOfDay(asOf)
        let items = try vaultOptions.openVault().retentionPlan(asOf: date)
        if json {
            print(try JSONText.render(items.map { ["case": $0.caseNumber, "action": $0.action.rawValue, "dueOn": $0.dueOn as Any,
                                                   "rule": $0.rule, "why": $0.why] }))
            return
        }
        guard !items.isEmpty else {
            print("No closed cases: nothing is due.")
            return
        }
        print(Table.render(header: ["CASE", "ACTION", "DUE", "RULE", "WHY"],
                           rows: items.map { [$0.caseNumber, $0.action.rawValue, $0.dueOn ?? "", $0.rule, $0.why] }))
    }
}

struct RetentionApproveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Approve disposing of closed cases that are due (the policy rule's approver roles).",
        discussion: """
            Name the cases, or pass --due for every case the plan lists for disposal today ('retention plan' shows \
            what will be due later). Each approval is a signed event; \
            approving again is a no-op. Approvals lapse if the case is reopened or the policy changes. Nothing is \
            destroyed until an admin or project director runs 'retention apply --approved-by ID'.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("Case numbers, e.g. CP-2019-0042.", valueName: "number"))
    var numbers: [String] = []

    @Flag(help: "Approve every case the plan lists for disposal.")
    var due = false

    @Option(help: ArgumentHelp("Why (kept in the signed history).", valueName: "text"))
    var reason: String

    func validate() throws {
        guard due == numbers.isEmpty else { throw ValidationError("name the cases to approve, or pass --due (not both)") }
    }

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            let outcomes = try vault.approveDisposal(cases: due ? nil : numbers, reason: reason, by: actor)
            guard !outcomes.isEmpty else {
                print("No case is due for disposal.")
                return
            }
            print(Table.render(header: ["CASE", "RESULT", "DETAIL"],
                               rows: outcomes.map { [$0.caseNumber, $0.result.rawValue, TerminalText.escape($0.detail)] }))
        }
    }
}

struct RetentionApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Dispose of every due case whose approvals meet its rule (admins, project directors).",
        discussion: """
            For each case the plan lists for disposal, the approvals signed by the members named with --approved-by \
            (not you, not the case's manager, of the rule's roles, as many as it asks) are checked; then, in one \
            transaction, the signed 'case.disposed' certificate is appended and every sealed copy of the case's tier \
            keys and file keys is erased; then its objects are deleted. Cases without enough approvals are listed and \
            left alone. Safe to interrupt and run again: a re-run finishes what was begun and changes nothing else. \
            Backups taken before the disposal still hold the keys: see SECURITY.md, "Disposal".
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Option(name: .customLong("approved-by"), parsing: .singleValue,
            help: ArgumentHelp("A member whose approvals to rely on (repeat, or separate with commas).", valueName: "id"))
    var approvedBy: [String] = []

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        guard !approvedBy.isEmpty else { throw ValidationError("name who approved with --approved-by ID") }
    }

    func run() throws {
        let approvers = approvedBy.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
        try vaultOptions.withUnlocked { vault, actor in
            let interactive = Terminal.isInteractive(2)
            let outcomes = try vault.applyRetention(approvedBy: approvers, by: actor) { outcome in
                if interactive && outcome.result != .awaitingApproval { Output.progress("\(outcome.caseNumber): \(outcome.result.rawValue)") }
            }
            if interactive { Output.progress("") }
            if json {
                print(try JSONText.render(outcomes.map { ["case": $0.caseNumber, "result": $0.result.rawValue, "detail": $0.detail,
                                                         "objectsErased": $0.objectsErased] }))
                return
            }
            guard !outcomes.isEmpty else {
                print("Nothing to dispose of: no case is due ('casevault retention plan' says why).")
                return
            }
            print(Table.render(header: ["CASE", "RESULT", "OBJECTS ERASED", "DETAIL"],
                               rows: outcomes.map { [$0.caseNumber, $0.result.rawValue, String($0.objectsErased), TerminalText.escape($0.detail)] }))
            let disposed = outcomes.filter { $0.result == .disposed }.count
            let waiting = outcomes.filter { $0.result == .awaitingApproval }.count
            print("Disposed of \(disposed) case(s)\(waiting > 0 ? "; \(waiting) await approval" : "").")
        }
    }
}

struct RetentionCertificateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certificate",
        abstract: "Print the disposal certificate of a case (no passphrase needed).",
        discussion: "From the signed 'case.disposed' event and the case's record: what was destroyed, when, by whom, under which policy and approvals."
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case number.", valueName: "number"), completion: Completions.caseNumbers)
    var number: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        let c = try vaultOptions.openVault().disposalCertificate(number)
        if json {
            print(try JSONText.render([
                "case": c.caseNumber, "category": c.category, "year": c.year, "openedAt": c.openedAt.formatted(.iso8601),
                "closedAt": c.closedAt?.formatted(.iso8601) as Any, "disposedAt": c.disposedAt.formatted(.iso8601),
                "disposedBy": c.disposedBy, "event": c.eventSeq, "eventLeafHash": c.eventLeafHash,
                "policy": ["version": c.policyVersion, "hash": c.policyHash, "rule": c.rule],
                "approvals": c.approvals.map { ["by": $0.by, "at": $0.at.formatted(.iso8601), "event": $0.seq, "reason": $0.reason] },
                "documents": c.documents, "versions": c.versions, "ciphertextBytes": c.ciphertextBytes, "tierKeysErased": c.tierKeysErased,
                "destroyed": c.destroyed.map { ["document": $0.document, "version": $0.version, "tier": $0.tier, "filedAt": $0.filedAt,
                                                "object": $0.objectId, "ciphertextSize": $0.ciphertextSize] },
                "log": ["size": c.logSize, "root": c.logRoot],
            ] as [String: Any]))
            return
        }
        print("DISPOSAL CERTIFICATE — \(c.caseNumber)")
        print("  category, year:      \(c.category), \(c.year)")
        print("  opened:              \(c.openedAt.formatted(.iso8601))")
        if let closed = c.closedAt { print("  closed:              \(closed.formatted(.iso8601))") }
        print("  disposed of:         \(c.disposedAt.formatted(.iso8601)) by \(c.disposedBy), by crypto-shredding")
        print("  under:               retention policy v\(c.policyVersion), rule \(c.rule) (policy file BLAKE2b-256 \(c.policyHash))")
        for approval in c.approvals {
            print("  approved by:         \(approval.by) on \(approval.at.formatted(.iso8601)) (event \(approval.seq)): \(TerminalText.escape(approval.reason))")
        }
        print("  destroyed:           \(c.documents) document(s), \(c.versions) version(s), \(c.ciphertextBytes) bytes of ciphertext;")
        print("                       \(c.tierKeysErased) sealed tier key(s) and \(c.versions) sealed file key(s) erased")
        print("  signed event:        \(c.eventSeq), leaf hash \(c.eventLeafHash)")
        print("  log when printed:    size \(c.logSize), root \(c.logRoot)")
        if !c.destroyed.isEmpty {
            print("Versions destroyed (OBJECT: the hash that names the ciphertext, SECURITY.md §9):")
            print(Table.render(header: ["  DOCUMENT", "V", "TIER", "FILED", "OBJECT", "BYTES"], rows: c.destroyed.map {
                ["  " + TerminalText.escape($0.document), String($0.version), $0.tier, $0.filedAt, $0.objectId, String($0.ciphertextSize)]
            }))
        }
    }
}
