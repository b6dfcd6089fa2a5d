import ArgumentParser
import CaseVault
import Foundation

struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Sign the event log's current head (a C2SP tlog-checkpoint) and print or save it.",
        discussion: """
            The checkpoint names the vault, the number of events and the RFC 9162 root of the log, \
            signed with your key. casevault keeps the newest one it has seen outside the vault for \
            you anyway; take one with --out to keep elsewhere (an auditor's desk, another office) \
            and give it back with --checkpoint FILE to any command or to 'casevault verify': a log \
            that was since truncated, rolled back or rewritten is then refused.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Option(help: ArgumentHelp("Write the checkpoint to this new file instead of standard output.", valueName: "file"))
    var out: String?

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            let checkpoint = try vault.checkpoint(signedBy: actor)
            guard let out else {
                print(checkpoint.note, terminator: "")
                return
            }
            try writeNewFile(out, checkpoint.note)
            print("Wrote a checkpoint of \(checkpoint.size) events to \(out), signed by '\(actor.id)'.")
        }
    }
}
