import ArgumentParser
import CaseVault
import Foundation

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Check confidentiality controls from the signed log, without reading any content.",
        discussion: """
            No passphrase is needed and no key is unsealed: everything comes from the signed event log, every \
            stored event hashed again into the log's Merkle tree and held to the trusted root (your checkpoint, \
            or --checkpoint FILE), and every event shown checked against its signer's key.
            """,
        subcommands: [AuditLogCommand.self, AuditAccessCommand.self, AuditProveCommand.self, AuditCheckProofCommand.self, AuditControlsCommand.self, AuditVerifyExportCommand.self]
    )
}


/// The vault for an audit read, which needs its log anchored: by the
/// checkpoint casevault keeps for this user, one given with --checkpoint,
/// or, with --unanchored, on the log's own word (SECURITY.md §12d).
func anchoredVault(_ options: VaultOptions, unanchored: Bool) throws -> Vault {
    let vault = try options.openVault()
    let anchor = try vault.logAnchor()
    if let size = anchor.anchoredAt {
        Output.writeToStandardError("casevault: anchored by \(anchor.source ?? "a checkpoint") at \(size) of \(anchor.size) events; "
            + "any after it are each signed and chained, as the vault now holds them\n")
    } else if unanchored {
        Output.warning("the log is not anchored on this machine: it is read on its own word, and events removed from its end would not show")
    } else {
        throw CommandFailure(message: "this vault's log is not anchored on this machine: nothing would show events removed from its end",
                             hint: "give the checkpoint you took earlier with --checkpoint FILE, or pass --unanchored to read the log on its own word",
                             code: .invalidInput)
    }
    return vault
}

struct AuditLogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "The event log, filtered, each event's signature checked.",
        discussion: """
            Every condition given must hold. --type takes an event type (content.read) or a prefix ending in a \
            dot (case.). --since and --until are UTC days, inclusive. With --json, one JSON object per line: seq, \
            at, actor, type, cases, data, body (the signed canonical JSON), signature (hex Ed25519 over \
            "casevault-event-v1\\\\n" + body) and leafHash (RFC 9162), so each line can be checked again elsewhere.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Option(name: .customLong("case"), help: ArgumentHelp("Only events naming this case.", valueName: "number"))
    var caseNumber: String?

    @Option(help: ArgumentHelp("Only events signed by this member.", valueName: "id"))
    var actor: String?

    @Option(help: ArgumentHelp("Only events of this type, or of types starting with this prefix ending in '.'.", valueName: "type"))
    var type: String?

    @Option(help: ArgumentHelp("From this UTC day on.", valueName: "YYYY-MM-DD"))
    var since: String?

    @Option(help: ArgumentHelp("Up to this UTC day.", valueName: "YYYY-MM-DD"))
    var until: String?

    @Flag(help: "JSON Lines: one event per line.")
    var json = false

    @Flag(help: "Read the log even when no checkpoint anchors it on this machine.")
    var unanchored = false

    func run() throws {
        var filter = AuditFilter()
        filter.caseNumber = caseNumber
        filter.actor = actor
        filter.type = type
        filter.since = since
        filter.until = until
        let events = try anchoredVault(vaultOptions, unanchored: unanchored).auditLog(filter)
        if json {
            for event in events {
                let object: [String: Any] = [
                    "seq": event.seq, "at": event.at, "actor": event.actor, "type": event.type, "cases": event.cases,
                    "data": try JSONSerialization.jsonObject(with: Data(event.data.utf8)), "body": event.body,
                    "signature": event.signature, "leafHash": event.leafHash,
                ]
                let line = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: line, as: UTF8.self))
            }
            return
        }
        guard !events.isEmpty else {
            print("No event matches.")
            return
        }
        print(Table.render(header: ["SEQ", "AT", "ACTOR", "TYPE", "WHAT"], rows: events.map {
            [String($0.seq), $0.at, $0.actor, $0.type, TerminalText.escape($0.summary)]
        }))
        print("\(events.count) event(s), each in the trusted log and validly signed.")
    }
}

struct AuditAccessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "access",
        abstract: "Who held each tier of a case, generation by generation, and every read, refusal, package and transfer of it.",
        discussion: """
            From the signed log alone: each holder's copy of each generation of each tier, from the event that \
            sealed it (and who signed that event) to the event that took it away (a rotation that removed them, \
            or one that replaced the generation), or "now". Then every signed read of the case's content, every \
            refused read, every package that held it and every transfer. No key is unsealed.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case number.", valueName: "number"), completion: Completions.caseNumbers)
    var number: String

    @Flag(help: "JSON output.")
    var json = false

    @Flag(help: "Read the log even when no checkpoint anchors it on this machine.")
    var unanchored = false

    func run() throws {
        let history = try anchoredVault(vaultOptions, unanchored: unanchored).accessHistory(of: number)
        func when(_ seq: Int64?, _ at: String?) -> String { seq.map { "\(at ?? "") (event \($0))" } ?? "now" }
        if json {
            var tiers: [String: Any] = [:]
            for (tier, periods) in history.periods {
                tiers[tier.rawValue] = periods.map { p -> [String: Any] in
                    var o: [String: Any] = ["holder": p.holder, "generation": p.generation, "fromSeq": p.fromSeq, "fromAt": p.fromAt,
                                            "grantedBy": p.grantedBy]
                    if let seq = p.untilSeq { o["untilSeq"] = seq; o["untilAt"] = p.untilAt ?? ""; o["untilWhy"] = p.untilWhy ?? "" }
                    return o
                }
            }
            let uses = history.uses.map { ["seq": $0.seq, "at": $0.at, "actor": $0.actor, "type": $0.type, "detail": $0.detail] as [String: Any] }
            print(try JSONText.render(["case": history.caseNumber, "tiers": tiers, "uses": uses]))
            return
        }
        print("Access to \(history.caseNumber), from the signed log (no key unsealed)")
        for tier in Tier.allCases {
            print("\(tier.rawValue) tier:")
            let rows = (history.periods[tier] ?? []).map { p in
                ["  " + String(p.generation), p.holder, when(p.fromSeq, p.fromAt), p.grantedBy,
                 when(p.untilSeq, p.untilAt) + (p.untilWhy.map { ": " + $0 } ?? "")]
            }
            print(Table.render(header: ["  GEN", "HOLDER", "FROM", "SEALED BY", "UNTIL"], rows: rows))
        }
        print("Reads, refusals, packages and transfers:")
        if history.uses.isEmpty {
            print("  none")
        } else {
            print(Table.render(header: ["  SEQ", "AT", "ACTOR", "WHAT", "DETAIL"], rows: history.uses.map {
                ["  " + String($0.seq), $0.at, $0.actor, $0.type, TerminalText.escape($0.detail)]
            }))
        }
    }
}

struct AuditProveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prove",
        abstract: "An RFC 9162 inclusion proof that an event is in the log a checkpoint commits to.",
        discussion: """
            The checkpoint (from `casevault checkpoint`, kept by the auditor) must be of this vault and its log a \
            prefix of this vault's trusted log (checked with a consistency proof). The proof names the checkpoint's \
            origin, size and root, the event's leaf index, its signed body and signature, and the inclusion path; \
            `casevault audit check-proof` (no vault needed) or any RFC 9162 implementation checks it.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The event's sequence number.", valueName: "seq"))
    var seq: Int64

    @Option(help: ArgumentHelp("Write the proof to this new file instead of printing it.", valueName: "file"))
    var out: String?

    func run() throws {
        guard let path = vaultOptions.checkpoint else {
            throw CommandFailure(message: "give the checkpoint the proof is for with --checkpoint FILE", hint: nil, code: .usage)
        }
        let proof = try vaultOptions.openVault().inclusionProof(seq: seq, under: try readCheckpoint(path))
        if let out {
            try writeNewFile(out, proof.json)
            print("Wrote \(out): event \(seq) in the \(proof.treeSize) events of \(proof.origin); \(proof.path.count) hashes in its path.")
        } else {
            print(proof.json, terminator: "")
        }
    }
}

struct AuditCheckProofCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-proof",
        abstract: "Check an inclusion proof against a checkpoint, without the vault.",
        discussion: """
            Needs only the two files: the proof's origin, size and root must be the checkpoint's, and its path \
            must lead from the event's leaf hash (SHA-256 of 0x00, the body and the signature) to that root. \
            Exit 0 when it does, 81 when it does not.
            """
    )

    @Argument(help: ArgumentHelp("The proof (from audit prove).", valueName: "file"))
    var file: String

    @Option(help: ArgumentHelp("The checkpoint it is for.", valueName: "file"))
    var checkpoint: String

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw CommandFailure(message: "cannot read \(file)", hint: nil, code: .notFound)
        }
        let proof = try InclusionProof(parsing: Array(data))
        let event = try proof.check(against: try readCheckpoint(checkpoint))
        print("Event \(event.seq) (\(event.type) by '\(event.actor)' at \(event.at)) is in the \(proof.treeSize) events of \(proof.origin) the checkpoint commits to.")
    }
}

struct AuditControlsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "controls",
        abstract: "The confidentiality-controls report: each check with pass or fail, a count and the items.",
        discussion: """
            From the signed state and the checked log, without a passphrase or a key: who holds each tier of each \
            case and anyone beyond its manager, supervisor, the recovery key and the policy's roles; \
            confidential-by-policy types and images in a team tier; wrapped keys cheaper than the vault's key \
            derivation; members who left and still hold a key; reads by a non-holder (there should be none) and \
            the reads refused; packages and transfers; closed cases past their retention date; legal holds; the \
            test-only key derivation; the recovery key. Exits 0 with the report whether checks pass or fail.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case md, text }

    @OptionGroup var vaultOptions: VaultOptions

    @Flag(help: "JSON output.")
    var json = false

    @Option(help: ArgumentHelp("md (Markdown, the default) or text.", valueName: "format"))
    var format: Format = .md

    @Flag(help: "Read the log even when no checkpoint anchors it on this machine.")
    var unanchored = false

    func run() throws {
        let report = try anchoredVault(vaultOptions, unanchored: unanchored).controlsReport()
        if json {
            let object: [String: Any] = [
                "vaultId": report.vaultId, "asOf": report.asOf, "logSize": report.logSize, "logRoot": report.logRoot, "passed": report.passed,
                "checks": report.checks.map { ["id": $0.id, "title": $0.title, "passed": $0.passed, "informational": $0.informational,
                                                "count": $0.count, "items": $0.items] as [String: Any] },
                "holders": report.holders.map { ["case": $0.caseNumber, "tier": $0.tier.rawValue, "holders": $0.holders] as [String: Any] },
            ]
            print(try JSONText.render(object))
            return
        }
        let md = format == .md
        print(md ? "# Confidentiality controls" : "Confidentiality controls")
        print("")
        print("Vault \(report.vaultId), \(report.asOf); log of \(report.logSize) events, root \(report.logRoot). No content was read and no key unsealed.")
        print("")
        if md {
            print("| check | result | count |")
            print("|---|---|---|")
        }
        for check in report.checks {
            let result = check.informational ? "info" : (check.passed ? "pass" : "FAIL")
            print(md ? "| \(check.title) | \(result) | \(check.count) |" : "  \(result.padding(toLength: 5, withPad: " ", startingAt: 0)) \(check.count)\t\(check.title)")
        }
        for check in report.checks where !check.items.isEmpty {
            print("")
            print(md ? "## \(check.title)" : "\(check.title):")
            print("")
            for item in check.items { print((md ? "- " : "  ") + TerminalText.escape(item)) }
        }
        print("")
        print(md ? "## Tier holders (current generation)" : "Tier holders (current generation):")
        print("")
        if md {
            print("| case | tier | holders |")
            print("|---|---|---|")
        }
        for row in report.holders {
            // Members first, the recovery key last, as `case show` lists them.
            let members = row.holders.filter { $0 != "recovery" }.map { $0.hasPrefix("staff:") ? String($0.dropFirst(6)) : $0 }
            let holders = (members + (row.holders.contains("recovery") ? ["recovery key"] : [])).joined(separator: ", ")
            print(md ? "| \(row.caseNumber) | \(row.tier.rawValue) | \(holders) |" : "  \(row.caseNumber)  \(row.tier.rawValue)  \(holders)")
        }
        print("")
        print(report.passed ? "Every check passes." : "\(report.checks.filter { !$0.passed }.count) check(s) fail: see above.")
    }
}

struct ExportAuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "A BagIt 1.0 bag of the signed log and catalog metadata, for an auditor's desk.",
        discussion: """
            By an auditor, admin or project director. The bag (RFC 8493), as a tar or a zip by --out's \
            extension, holds in data/: events.jsonl (each event's signed body, signature, leaf hash and inclusion \
            path under the bag's checkpoint), checkpoint.txt (signed by you), with --checkpoint FILE the auditor's \
            previous checkpoint and consistency.json (the RFC 9162 proof that the log only grew since), \
            catalog/ (staff with roles and public keys, cases, grants, the document inventory with sizes, stamps \
            and ciphertext hashes, status history, tags) and controls.json; with bagit.txt, bag-info.txt, \
            manifest-sha256.txt, manifest-sha512.txt and tagmanifest-sha256.txt. No content and no key material. \
            --case and --since narrow the events and the catalog. The export is a signed event naming the file's \
            BLAKE2b-256.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Option(help: ArgumentHelp("The bag to write: a new .tar or .zip file.", valueName: "file"))
    var out: String

    @Option(name: .customLong("case"), parsing: .upToNextOption, help: ArgumentHelp("Only these cases.", valueName: "number"))
    var cases: [String] = []

    @Option(help: ArgumentHelp("Only events from this UTC day on.", valueName: "YYYY-MM-DD"))
    var since: String?

    @Flag(help: "Print what was written as JSON (Schemas/cli/export-audit.schema.json).")
    var json = false

    func run() throws {
        let last = try vaultOptions.checkpoint.map { try readCheckpoint($0) }
        try vaultOptions.withUnlocked { vault, actor in
            let report = try vault.exportAudit(out: out, cases: cases, since: since, lastCheckpoint: last, by: actor)
            if json {
                print(try JSONText.render([
                    "path": report.path, "bag": report.bagName, "format": report.format, "events": report.events, "logSize": report.logSize,
                    "payloadFiles": report.payloadFiles, "payloadBytes": report.payloadBytes, "blake2b": report.blake2b,
                ] as [String: Any]))
                return
            }
            print("Wrote \(report.path): the bag \(report.bagName)/ (\(report.format)), \(report.events) signed events of \(report.logSize), \(report.payloadFiles) payload files, \(report.payloadBytes) bytes; BLAKE2b-256 \(report.blake2b) (b2sum -l 256)")
            print("No content and no key material is in it. Validate it with bagit.py --validate once extracted.")
        }
    }
}

struct AuditVerifyExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-export",
        abstract: "Check a casevault audit bag at an auditor's desk, without the vault.",
        discussion: """
            Takes the .tar or .zip `export audit` wrote, or the folder it was extracted to. Checks the BagIt \
            declaration, the SHA-256 and SHA-512 manifests, the tag manifest and Payload-Oxum; every event's body, \
            its signature by the key its signer's staff.added in the bag gives, and its RFC 9162 inclusion under \
            the bag's checkpoint; the checkpoint's signature by the exporter; with --checkpoint FILE (your own \
            earlier checkpoint) that the log only grew since; and, for a whole log, the controls that come from \
            the events, recomputed. Exit 0 when every check passes, 81 otherwise.

            With --bagit-only, only whether the bag is valid BagIt 1.0 (RFC 8493), whoever made it: complete, \
            every digest of every manifest matching (md5, sha1, sha224, sha256, sha512), Payload-Oxum right, no \
            path leaving the bag. Exit 0 for a valid bag, 81 otherwise; warnings go to standard error.
            """
    )

    @Argument(help: ArgumentHelp("The bag: a .tar or .zip, or an extracted folder.", valueName: "bag"))
    var bag: String

    @Option(help: ArgumentHelp("Your previous checkpoint of the vault: the bag must extend it.", valueName: "file"))
    var checkpoint: String?

    @Flag(help: "Check a bag that carries no exporter's signature (made before casevault signed bags, 2026-12-06), with a warning, rather than refuse it.")
    var allowUnsigned = false

    @Flag(help: "Only judge whether the bag is valid BagIt 1.0, whoever made it.")
    var bagitOnly = false

    @Flag(help: "JSON output.")
    var json = false

    func validate() throws {
        if bagitOnly, checkpoint != nil { throw ValidationError("--checkpoint checks a casevault audit bag; --bagit-only checks only BagIt") }
    }

    func run() throws {
        let result = try AuditBag.verify(at: bag, previous: try checkpoint.map { try readCheckpoint($0) }, bagItOnly: bagitOnly,
                                         allowUnsigned: allowUnsigned)
        for warning in result.warnings { Output.warning(TerminalText.escape(warning)) }
        if json {
            print(try JSONText.render([
                "bag": result.bagName, "vaultId": result.vaultId, "events": result.events, "passed": result.passed,
                "checks": result.checks.map { ["title": $0.title, "passed": $0.passed, "detail": $0.detail] as [String: Any] },
                "warnings": result.warnings,
            ] as [String: Any]))
        } else if bagitOnly {
            let check = result.checks[0]
            print("Bag \(TerminalText.escape(result.bagName)): " + (result.passed ? "valid BagIt" : "NOT valid BagIt: \(TerminalText.escape(check.detail))"))
        } else {
            print("Bag \(result.bagName) of vault \(result.vaultId): \(result.events) signed events")
            for check in result.checks {
                print("  \(check.passed ? "pass" : "FAIL")  \(check.title)" + (check.detail.isEmpty || check.passed ? "" : ": \(TerminalText.escape(check.detail))"))
            }
            print(result.passed ? "Every check passes." : "The bag does not verify.")
            if checkpoint == nil {
                print("Without --checkpoint this shows only that the bag is whole and consistent in itself; your own earlier checkpoint ties it to the vault you audit.")
            }
        }
        if !result.passed { throw ExitCode(81) }
    }
}
