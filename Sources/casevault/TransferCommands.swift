import ArgumentParser
import CaseVault
import Foundation

struct VaultCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vault",
        abstract: "This vault's identity, for another office sending it cases.",
        subcommands: [VaultPubkeyCommand.self]
    )
}

struct VaultPubkeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pubkey",
        abstract: "Print the identity another vault transfers cases to: this vault and the member who imports them.",
        discussion: """
            The identity names this vault and its format, the member who will import (a case supervisor) and \
            their public key, with a fingerprint. A vault of format 3 sends cases only to one of format 3, and \
            says so before it signs anything. It holds no secret: send it to the other office, then read the \
            fingerprint to each other by another channel (a call) before they run `casevault export case`. Only \
            that member can open what is sent, and only here. No passphrase is needed.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Option(help: ArgumentHelp("The staff id of the member who will import.", valueName: "id"))
    var member: String

    @Option(help: ArgumentHelp("Write the identity to this new file instead of printing it.", valueName: "file"))
    var out: String?

    func run() throws {
        let identity = try vaultOptions.openVault().identity(for: member)
        if let out {
            try writeNewFile(out, identity.text)
            print("Wrote \(out): vault \(identity.vault), member \(identity.member); fingerprint \(identity.fingerprint)")
        } else {
            print(identity.text, terminator: "")
        }
    }
}

struct ExportCaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "case",
        abstract: "Transfer a case to another vault (another office).",
        discussion: """
            By the case's supervisor. Signs `case.transferred` (from then on this vault's copy is read-only: \
            nothing is filed, moved, granted or handed over in it; its holders can still read it), then writes \
            --out sealed to the member named in the identity file (from `casevault vault pubkey` there): the \
            case's signed history with the proofs that it is in this vault's log, both tier keys re-sealed for \
            that member, every version's sealed file key, sealed original file name and encrypted object as stored. Nothing is decrypted \
            but the two tier keys. Check the identity's fingerprint with the receiving office first. If the file \
            is lost or the command is killed, run it again: it signs a new transfer to the same member. A case \
            cannot go while a handover, legal hold, closure approval or unfinished rotation is under way. An \
            office still on a casevault from before file names travelled refuses a file that carries \
            them: --without-file-names writes one it imports (its versions arrive without their names), \
            from a vault of format 2. A vault of format 3 names objects by BLAKE3 and sends a case only to a \
            vault of format 3: it refuses, before signing anything, an identity of another format or from a \
            casevault that does not say its vault's format.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case number.", valueName: "number"), completion: Completions.caseNumbers)
    var number: String

    @Option(help: ArgumentHelp("The receiving vault's identity file (casevault vault pubkey).", valueName: "file"))
    var toVault: String

    @Option(help: ArgumentHelp("The transfer file to write (a new file).", valueName: "file"))
    var out: String

    @Option(help: ArgumentHelp("Why (kept in the signed log).", valueName: "text"))
    var reason: String

    @Flag(help: "Leave the versions' original file names out, for a receiving office on a casevault from before file names travelled (from a vault of format 2).")
    var withoutFileNames = false

    @Flag(help: "Print what was written as JSON (Schemas/cli/export-case.schema.json).")
    var json = false

    func run() throws {
        guard let bytes = FileManager.default.contents(atPath: toVault) else {
            throw CommandFailure(message: "cannot read \(toVault)", hint: nil, code: .notFound)
        }
        let identity = try VaultIdentity(parsing: Array(bytes))
        try vaultOptions.withUnlocked { vault, actor in
            let report = try vault.exportCase(number, to: identity, out: out, reason: reason, fileNames: !withoutFileNames, by: actor)
            if json {
                print(try JSONText.render([
                    "path": report.path, "case": report.caseNumber, "events": report.events, "versions": report.versions,
                    "objects": report.objects, "bytes": report.bytes, "blake2b": report.blake2b, "transferSeq": report.transferSeq,
                    "vaultFingerprint": report.vaultFingerprint,
                    "to": ["vault": report.to.vault, "member": report.to.member, "name": report.to.name, "fingerprint": report.to.fingerprint],
                ] as [String: Any]))
                return
            }
            print("Transferred \(report.caseNumber) to '\(identity.member)' (\(identity.name)) of vault \(identity.vault), fingerprint \(identity.fingerprint)")
            print("Wrote \(report.path): \(report.events) events, \(report.versions) version(s), \(report.objects) object(s), \(report.bytes) bytes; BLAKE2b-256 \(report.blake2b) (b2sum -l 256)")
            print("This vault's copy of \(report.caseNumber) is now read-only (event \(report.transferSeq)).")
            print("This vault's fingerprint is \(report.vaultFingerprint): read it to the receiving office, who imports with --from-vault \(report.vaultFingerprint).")
        }
    }
}

struct CaseCancelTransferCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel-transfer",
        abstract: "Call a transfer back: the case is this vault's to change again.",
        discussion: """
            By the case's supervisor, when the receiving office refused the case or the file was lost. A file \
            already sent can still be imported by its recipient: ask the other office to delete it.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case number.", valueName: "number"), completion: Completions.caseNumbers)
    var number: String

    @Option(help: ArgumentHelp("Why (kept in the signed log).", valueName: "text"))
    var reason: String

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            let gone = try vault.cancelTransfer(number, reason: reason, by: actor)
            print("Cancelled the transfer of \(number) to '\(gone.toMember)' of vault \(gone.toVault): the case is this vault's to change again.")
            print("Ask that office to delete the file it was sent; it could still be imported there.")
        }
    }
}

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Bring in what another vault sent.",
        subcommands: [ImportCaseCommand.self]
    )
}

struct ImportCaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "case",
        abstract: "Import a case another vault transferred to you.",
        discussion: """
            By the member the transfer was sealed to (a case supervisor here, who becomes its supervisor). Every entry is \
            checked as it is read (only the parts a transfer holds, each named by its hash; no paths, links or \
            devices); then the case's history: every event signed by a member of the sending vault entitled to \
            sign it and proved in its log by the checkpoint, and the case, its documents and versions exactly \
            what its signed state held when it was transferred. New tier keys are made here and sealed to the \
            manager and supervisor you name, the team-tier roles and the recovery key; every file key is re-sealed \
            to them, so no key of the sending office opens what is filed here later. One `case.imported` event \
            records it. On any refusal nothing is left behind.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The transfer file.", valueName: "file"))
    var file: String

    @Option(help: ArgumentHelp("The case manager here.", valueName: "id"))
    var manager: String

    @Option(help: ArgumentHelp("Refuse the transfer, before anything is written, unless it comes from this vault: its fingerprint (as `export case` printed it there, read to you by another channel) or, weaker, its id.", valueName: "fingerprint"))
    var fromVault: String?

    @Flag(help: "Print what was imported as JSON (Schemas/cli/import-case.schema.json); warnings stay on standard error.")
    var json = false

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            let report = try vault.importCase(from: file, manager: manager, expectingVault: fromVault, by: actor)
            if json {
                warnUnlessChecked(report)
                print(try JSONText.render([
                    "case": report.caseNumber, "fromVault": report.fromVault, "fromVaultFingerprint": report.fromVaultFingerprint,
                    "checkedByFingerprint": report.checkedByFingerprint, "transferredBy": report.transferredBy, "events": report.events,
                    "documents": report.documents, "versions": report.versions, "objects": report.objects,
                    "manager": report.manager, "supervisor": report.supervisor,
                ] as [String: Any]))
                return
            }
            print("Imported \(report.caseNumber) from vault \(report.fromVault), fingerprint \(report.fromVaultFingerprint) (transferred by '\(report.transferredBy)'): \(report.events) events verified, \(report.documents) document(s), \(report.versions) version(s), \(report.objects) object(s)")
            warnUnlessChecked(report)
            print("Manager \(report.manager), supervisor \(report.supervisor) (you); its tier keys are new here. Delete \(file) now: it holds the old tier keys sealed to you.")
        }
    }

    private func warnUnlessChecked(_ report: ImportReport) {
        guard !report.checkedByFingerprint else { return }
        Output.warning("the sending vault was not checked by its fingerprint: confirm \(report.fromVaultFingerprint) with the sending office (a vault made elsewhere can take any id)")
    }
}
