import ArgumentParser
import CaseVault
import Foundation

struct HoldCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold",
        abstract: "Place, release and list legal holds: a held case is never disposed of.",
        discussion: """
            'casevault hold add NUMBER --reason TEXT' and 'hold release NUMBER --reason TEXT' (project directors, admins, \
            the case's supervisor) are signed events; 'hold list' needs no passphrase.
            """,
        subcommands: [HoldAddCommand.self, HoldReleaseCommand.self, HoldListCommand.self]
    )
}

/// What hold add and hold release both take.
struct HoldChange: ParsableArguments {
    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case number, e.g. CP-2024-0042.", valueName: "number"), completion: Completions.caseNumbers)
    var number: String

    @Option(help: ArgumentHelp("Why (kept in the signed history).", valueName: "text"))
    var reason: String

    func apply(placing: Bool) throws {
        try vaultOptions.withUnlocked { vault, actor in
            try vault.setHold(number, placing: placing, reason: reason, by: actor)
            print(placing ? "\(number) is on hold: nothing of it will be disposed of or moved out until the hold is released."
                          : "Released the hold on \(number).")
        }
    }
}

struct HoldAddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Place a legal hold on a case.")
    @OptionGroup var change: HoldChange
    func run() throws { try change.apply(placing: true) }
}

struct HoldReleaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "release", abstract: "Release a case's legal hold (whoever placed it, a project director, or another admin for an admin's hold).")
    @OptionGroup var change: HoldChange
    func run() throws { try change.apply(placing: false) }
}

struct HoldListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the holds standing (no passphrase needed).")

    @OptionGroup var vaultOptions: VaultOptions

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        let holds = try vaultOptions.openVault().holds()
        if json {
            print(try JSONText.render(holds.map { ["case": $0.caseNumber, "at": $0.at.formatted(.iso8601), "by": $0.by, "reason": $0.reason] }))
            return
        }
        guard !holds.isEmpty else {
            print("No holds.")
            return
        }
        print(Table.render(header: ["CASE", "SINCE", "BY", "REASON"],
                           rows: holds.map { [$0.caseNumber, $0.at.formatted(.iso8601), $0.by, TerminalText.escape($0.reason)] }))
    }
}
