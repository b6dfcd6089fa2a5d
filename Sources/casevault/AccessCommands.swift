import ArgumentParser
import CaseVault
import Foundation

/// `--tier team|confidential`.
private func parseTier(_ text: String) throws -> Tier { try parseEnum(Tier.self, text) }

func printRotation(_ outcome: RotationOutcome) {
    var line = "  \(outcome.caseNumber) \(outcome.tier.rawValue) tier → generation \(outcome.generation)"
    if !outcome.removed.isEmpty {
        line += "; removed \(outcome.removed.map { $0.hasPrefix("staff:") ? String($0.dropFirst(6)) : $0 }.joined(separator: ", "))"
    }
    if outcome.resealed > 0 { line += "; \(outcome.resealed) file key(s) re-sealed" }
    if outcome.awaitsResealing { line += "; older versions await re-sealing by a holder (casevault case rotate \(outcome.caseNumber))" }
    print(line)
}

struct CaseGrantCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grant",
        abstract: "Give a member one tier of a case (its supervisor or a project director, who must hold the tier).",
        discussion: """
            Seals the tier's current key to the member. The team tier goes to case managers, case supervisors \
            and project directors; the confidential tier to case managers and case supervisors only. The grant \
            is a signed event (case.access-granted) with its reason. When the case's supervisor has left the \
            staff, its manager grants both tiers to the incoming supervisor of the case's handover (no one \
            else who stays holds the confidential tier).
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case number, e.g. CP-2024-0042.", valueName: "number"), completion: Completions.caseNumbers)
    var number: String

    @Option(help: ArgumentHelp("team or confidential.", valueName: "tier"), transform: parseTier)
    var tier: Tier

    @Option(help: ArgumentHelp("Staff id of who gets the tier.", valueName: "id"))
    var member: String

    @Option(help: ArgumentHelp("Why (kept in the signed log).", valueName: "text"))
    var reason: String

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            try vault.grantAccess(to: member, case: number, tier: tier, reason: reason, by: actor)
            print("Granted the \(tier.rawValue) tier of \(number.uppercased()) to '\(member)'.")
            printHolders(try vault.holders(of: number))
        }
    }
}

struct CaseRevokeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Take a member's access to a case away; the tier keys rotate.",
        discussion: """
            Each tier the member holds (or only --tier) gets a new key pair, sealed to the other holders; \
            the member's sealed copies are erased, and every file key is re-sealed to the new key when you \
            hold the tier. What is filed from then on opens only with the new key. It does not reach what \
            they read or saved before, nor backups taken before (SECURITY.md §3, "Rotation"). A case's \
            manager or supervisor is not revoked: hand the case over instead.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case number, e.g. CP-2024-0042.", valueName: "number"), completion: Completions.caseNumbers)
    var number: String

    @Option(help: ArgumentHelp("Only this tier (default: every tier they hold).", valueName: "tier"), transform: parseTier)
    var tier: Tier?

    @Option(help: ArgumentHelp("Staff id of who loses access.", valueName: "id"))
    var member: String

    @Option(help: ArgumentHelp("Why (kept in the signed log).", valueName: "text"))
    var reason: String

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            let outcomes = try vault.revokeAccess(from: member, case: number, tier: tier, reason: reason, by: actor)
            print("Revoked '\(member)' from \(number.uppercased()):")
            outcomes.forEach(printRotation)
        }
    }
}

struct CaseRotateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Rotate a case's tier keys, or finish rotations that await re-sealing.",
        discussion: """
            Gives each tier a new key pair sealed to its current holders (less any who left the staff) and, \
            when you hold the tier, re-seals every file key to it; the older keys are then erased. With \
            --pending instead of a case number: every case you hold whose older versions await re-sealing \
            after a rotation by someone who does not hold the tier (an admin recording a departure).
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case number, e.g. CP-2024-0042.", valueName: "number"), completion: Completions.caseNumbers)
    var number: String?

    @Option(help: ArgumentHelp("Only this tier (default: both).", valueName: "tier"), transform: parseTier)
    var tier: Tier?

    @Flag(help: "Every case you hold with versions awaiting re-sealing.")
    var pending = false

    @Option(help: ArgumentHelp("Why (kept in the signed log).", valueName: "text"))
    var reason: String

    func validate() throws {
        guard (number == nil) == pending else { throw ValidationError("give a case number, or --pending") }
    }

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            if pending {
                var count = 0
                _ = try vault.finishPendingRotations(reason: reason, by: actor) { outcome in
                    count += 1
                    printRotation(outcome)
                }
                print(count == 0 ? "Nothing awaits re-sealing in the cases you hold." : "Rotated \(count) tier(s).")
                return
            }
            guard let number else { return }
            let outcomes = try vault.rotateKeys(case: number, tiers: tier.map { [$0] } ?? Tier.allCases, reason: reason, by: actor)
            print("Rotated the keys of \(number.uppercased()):")
            outcomes.forEach(printRotation)
        }
    }
}

struct StaffLeaveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leave",
        abstract: "Record that a member left (admins): they can no longer unlock or sign, and every tier they held rotates.",
        discussion: """
            Signs staff.left, then rotates every tier of every case the member holds (for a project \
            director, every team tier), one case at a time. Until a tier has rotated nothing more is \
            filed into it; if the run is interrupted, run it again to finish. An admin holds no tier \
            keys, so the older versions stay sealed to the older keys, which the remaining holders keep, \
            until a holder runs `casevault case rotate --pending`. Cases that still name the member as \
            manager or supervisor are listed: hand them over. Refused, with nothing signed, while the member \
            is the last one on the staff holding a tier of some case (only the recovery key, or no one, would open \
            it afterwards): have a holder grant it to someone who stays, or hand the case over, first.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("Staff id of who left.", valueName: "id"))
    var id: String

    @Option(help: ArgumentHelp("Why (kept in the signed log).", valueName: "text"))
    var reason: String

    @Flag(help: "Record the departure even where they are the last staff holder of a tier (its documents then open for the recovery key alone, or for no one).")
    var allowUnheld = false

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            let report = try vault.recordDeparture(of: id, reason: reason, allowUnheld: allowUnheld, by: actor) { printRotation($0) }
            print(report.recorded ? "Recorded that '\(id)' left the staff." : "'\(id)' had already left; finished rotating their tiers.")
            print("\(report.rotations.count) tier(s) rotated; \(report.rotations.filter(\.awaitsResealing).count) await re-sealing by a holder.")
            if !report.casesStillNamingThem.isEmpty {
                Output.warning("these cases still name '\(id)' as manager or supervisor; hand them over: \(report.casesStillNamingThem.joined(separator: ", "))")
            }
            for number in report.handoversToThem {
                Output.warning("\(number) was being handed over to '\(id)': cancel it (casevault handover cancel \(number) --reason …), then start another")
            }
        }
    }
}
