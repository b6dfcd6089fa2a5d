import ArgumentParser
import CaseVault
import Foundation

struct RetentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention",
        abstract: "The retention policy and what it says is due (no disposal yet).",
        subcommands: [RetentionPolicyCommand.self, RetentionPlanCommand.self]
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
