@testable import CaseVault
import CaseVaultCrypto
import Foundation
import Testing

/// Issue 11, item 1: the log, readable and checked, and a case's access
/// history, without a passphrase or a key.
@Suite struct AuditTests {
    static let number = RotationTests.number

    /// The rotation scene, joseph granted the team tier then revoked, a
    /// refused read by the records officer, and reads by grace and joseph.
    static func scene() throws -> Programme {
        let p = try RotationTests.scene()
        try p.vault.grantAccess(to: "joseph", case: number, tier: .team, reason: "covering for grace", by: p["halima"])
        _ = try p.read(by: "joseph")
        _ = try p.vault.revokeAccess(from: "joseph", case: number, reason: "cover ended", by: p["halima"])
        #expect(throws: VaultError.self) { _ = try p.read(by: "farah") }
        _ = try p.read(Self.number, "Photo", by: "grace")
        try p.openCase(client: 43)
        return p
    }

    @Test func theLogIsFilteredAndEveryEventListedIsChecked() throws {
        let p = try Self.scene()
        let all = try p.vault.auditLog()
        #expect(all.map(\.seq) == Array(1...Int64(all.count)))
        // Each line carries what is needed to check it elsewhere: the body, the signature and the leaf.
        for event in all {
            let key = try p.vault.staffMember(id: event.actor).signingPublicKeyHex
            let signer = try SigningPublicKey(bytes: try #require([UInt8](hexString: key)))
            #expect(signer.isValidSignature(try #require([UInt8](hexString: event.signature)), for: Event.signedMessage(body: Array(event.body.utf8))))
            #expect(LogTree.leafHash(body: Array(event.body.utf8), signature: [UInt8](hexString: event.signature)!).hexString == event.leafHash)
        }
        var filter = AuditFilter()
        filter.caseNumber = "CP-2024-0043"
        #expect(try p.vault.auditLog(filter).map(\.type) == ["case.opened", "grant.given", "grant.given", "grant.given", "grant.given",
                                                            "grant.given", "grant.given", "grant.given"])
        filter = AuditFilter()
        filter.caseNumber = Self.number
        filter.type = "content."
        let uses = try p.vault.auditLog(filter)
        #expect(uses.map { "\($0.type) \($0.actor)" } == ["content.read joseph", "content.refused farah", "content.read grace"])
        #expect(uses[0].summary.hasPrefix("CP-2024-0042 'Intake form' v2 (team) object="))
        filter.type = "content.read"
        filter.actor = "grace"
        #expect(try p.vault.auditLog(filter).count == 1)
        filter = AuditFilter()
        filter.since = "2999-01-01"
        #expect(try p.vault.auditLog(filter).isEmpty)
        filter.since = "1999-01-01"
        filter.until = "2999-12-31"
        #expect(try p.vault.auditLog(filter).count == all.count)
        filter.until = "31/12/2999"
        #expect(throws: VaultError.invalidInput("--until takes a day, YYYY-MM-DD; got '31/12/2999'")) { try p.vault.auditLog(filter) }
    }

    @Test func anEventEditedRemovedOrReSignedInTheCatalogIsRefusedNotListed() throws {
        let p = try Self.scene()
        try p.tamper("UPDATE events SET body = CAST(replace(CAST(body AS TEXT), 'farah', 'peter') AS BLOB) WHERE type = 'content.refused'")
        #expect(throws: VaultError.self) { try p.vault.auditLog() }
        let q = try Self.scene()
        try q.tamper("DELETE FROM events WHERE seq = (SELECT MAX(seq) FROM events WHERE type = 'content.read')")
        #expect(throws: VaultError.self) { try q.vault.auditLog() }
        #expect(throws: VaultError.self) { try q.vault.accessHistory(of: Self.number) }
    }

    @Test func accessHistoryShowsEachHoldersCopyGenerationByGeneration() throws {
        let p = try Self.scene()
        let history = try p.vault.accessHistory(of: Self.number)
        let team = try #require(history.periods[.team])
        func line(_ period: AccessHistory.Period) -> String {
            "\(period.generation) \(period.holder) by \(period.grantedBy) until \(period.untilWhy ?? "now")"
        }
        #expect(team.map(line) == [
            "1 staff:grace by halima until generation 2 replaced it",
            "1 staff:halima by halima until generation 2 replaced it",
            "1 staff:dora by halima until generation 2 replaced it",
            "1 recovery by halima until generation 2 replaced it",
            "1 staff:joseph by halima until removed (rotated to generation 2)",
            "2 recovery by halima until now",
            "2 staff:dora by halima until now",
            "2 staff:grace by halima until now",
            "2 staff:halima by halima until now",
        ])
        #expect(history.periods[.confidential]?.allSatisfy { $0.generation == 1 && $0.untilSeq == nil } == true)
        #expect(history.uses.map(\.type) == ["content.read", "content.refused", "content.read"])
        #expect(history.uses[1].detail == "'Intake form' v2 (team): refused, role")
        // Nothing was unsealed to find this out, and it needs no passphrase: the auditor's seat.
        #expect(throws: VaultError.notFound("no case CP-2024-0099")) { try p.vault.accessHistory(of: "CP-2024-0099") }
    }

    @Test func anInclusionProofChecksAgainstTheCheckpointAloneAndNothingElse() throws {
        let p = try Self.scene()
        let head = try p.vault.eventTreeHead()
        let checkpoint = try Checkpoint.signed(vaultID: p.vault.config.vaultId, size: Int64(head.size),
                                           root: try #require([UInt8](hexString: head.rootHex)), by: p["peter"])
        // Every event, proved and checked from the proof's JSON alone.
        for seq in 1...Int64(head.size) {
            let proof = try InclusionProof(parsing: Array(try p.vault.inclusionProof(seq: seq, under: checkpoint).json.utf8))
            #expect(try proof.check(against: checkpoint).seq == seq)
        }
        // The log grows; an older checkpoint still proves its own events, and refuses later ones.
        try p.file(Array("intake 3".utf8))
        #expect(try p.vault.inclusionProof(seq: 3, under: checkpoint).treeSize == Int64(head.size))
        #expect(throws: VaultError.self) { try p.vault.inclusionProof(seq: Int64(head.size) + 1, under: checkpoint) }
        // A proof whose event was altered, or checked against another checkpoint, is refused.
        let proof = try p.vault.inclusionProof(seq: 5, under: checkpoint)
        let altered = InclusionProof(origin: proof.origin, treeSize: proof.treeSize, rootHash: proof.rootHash, leafIndex: proof.leafIndex,
                                     body: Array(String(decoding: proof.body, as: UTF8.self).replacingOccurrences(of: "\"at\":\"20", with: "\"at\":\"19").utf8),
                                     signature: proof.signature, path: proof.path)
        #expect(throws: VaultError.self) { try altered.check(against: checkpoint) }
        let later = try p.vault.eventTreeHead()
        let newer = try Checkpoint.signed(vaultID: p.vault.config.vaultId, size: Int64(later.size),
                                      root: try #require([UInt8](hexString: later.rootHex)), by: p["peter"])
        #expect(throws: VaultError.self) { try proof.check(against: newer) }
        // A checkpoint of another history (a forked or rewritten log) proves nothing here.
        let forked = try Checkpoint.signed(vaultID: p.vault.config.vaultId, size: 4, root: Array(repeating: 7, count: 32), by: p["peter"])
        #expect(throws: VaultError.integrityFailure("this vault's log does not extend the checkpoint")) {
            try p.vault.inclusionProof(seq: 2, under: forked)
        }
    }

    @Test func theControlsReportPassesWhatHoldsAndNamesWhatDoesNot() throws {
        let p = try RotationTests.scene()
        func failing(_ report: ControlsReport) -> [String] { report.checks.filter { !$0.passed }.map(\.id) }
        var report = try p.vault.controlsReport()
        // The test vault uses the test-only key derivation, and says so.
        #expect(failing(report) == ["test-kdf"])
        #expect(report.holders.first { $0.caseNumber == Self.number && $0.tier == .confidential }?.holders
                == ["recovery", "staff:grace", "staff:halima"])

        // A covering grant, a type made confidential after a version of it was filed to the team tier,
        // a refused read, and a departure recorded without its rotation (a run killed between the two).
        try p.vault.grantAccess(to: "joseph", case: Self.number, tier: .team, reason: "covering", by: p["halima"])
        try p.file(Array("notes".utf8), name: "Notes", type: "report")
        try p.vault.setConfidentialTypes(Policy.defaultConfidentialTypes + ["report"], by: p["amina"])
        #expect(throws: VaultError.self) { _ = try p.read(by: "farah") }
        _ = try p.read(by: "joseph")
        try p.vault.write { writer, head in
            try Ledger.append([.staffLeft(StaffLeft(id: "dora", reason: "left"))], by: p["amina"], at: Date(),
                              vaultID: p.vault.config.vaultId, head: &head, in: writer)
        }
        report = try p.vault.controlsReport()
        #expect(failing(report) == ["holders", "confidential-types-in-team", "departed-holders", "test-kdf"])
        let byID = Dictionary(report.checks.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byID["holders"]?.items.count == 1 && byID["holders"]?.items.first?.contains("'joseph' (case-manager)") == true)
        #expect(byID["confidential-types-in-team"]?.items == ["\(Self.number) 'Notes' v1 (type report)"])
        #expect(byID["departed-holders"]?.items.first?.contains("'dora'") == true)
        #expect(byID["reads-without-grant"]?.items.isEmpty == true)
        #expect(byID["refused-reads"]?.items.count == 1 && byID["refused-reads"]?.passed == true)
    }

    /// Issue 11, item 6: an auditor's whole workflow on a vault that has
    /// seen reads, a handover package, a rotation and a transfer, run on this
    /// thread, unseals no key; and the auditor is refused every content read.
    @Test func theAuditorsSeatUnsealsNothingAndReadsNoContent() throws {
        let p = try Self.scene()
        let drafts = try p.vault.handoverDrafts(from: "grace", to: "joseph", cases: [Self.number])
        _ = try p.vault.startHandover(from: "grace", to: "joseph", cases: [Self.number],
                                      drafts: [Self.number: completedHandoverDraft(drafts[0].form)], by: p["halima"])
        _ = try p.vault.exportHandover(cases: [Self.number], to: "joseph", out: p.scratch.file("h.cvp"), by: p["grace"])
        let other = try Programme()
        _ = try p.vault.exportCase("CP-2024-0043", to: try other.vault.identity(for: "halima"), out: p.scratch.file("t.cvt"),
                                   reason: "moved", by: p["halima"])
        // The counter counts: a holder's read unseals the tier key and the file key.
        let counted = UnsealCount.onThisThread
        _ = try p.read(by: "grace")
        #expect(UnsealCount.onThisThread - counted >= 2)

        let before = UnsealCount.onThisThread
        let head = try p.vault.eventTreeHead()
        let checkpoint = try Checkpoint.signed(vaultID: p.vault.config.vaultId, size: Int64(head.size),
                                           root: try #require([UInt8](hexString: head.rootHex)), by: p["peter"])
        let log = try p.vault.auditLog()
        for number in [Self.number, "CP-2024-0043"] { _ = try p.vault.accessHistory(of: number) }
        let report = try p.vault.controlsReport()
        for seq in stride(from: Int64(1), through: Int64(head.size), by: 7) { _ = try p.vault.inclusionProof(seq: seq, under: checkpoint) }
        #expect(try p.vault.verify().isClean)
        #expect(UnsealCount.onThisThread == before, "the auditor's workflow unsealed \(UnsealCount.onThisThread - before) key(s)")
        #expect(log.count == head.size && report.checks.count == 12)
        // And every content read by the auditor is refused (and signed as refused).
        for (number, document) in [(Self.number, "Intake form"), (Self.number, "Photo")] {
            #expect(throws: VaultError.self) { _ = try p.read(number, document, by: "peter") }
        }
        #expect(UnsealCount.onThisThread == before)
        var refusals = AuditFilter()
        refusals.actor = "peter"
        refusals.type = "content.refused"
        #expect(try p.vault.auditLog(refusals).count == 2)
    }

    /// Issue 11: the Trust issue's tamper classes, applied to the vault's
    /// folder before an audit export, are refused by the export (and by the
    /// controls report), never exported as if true.
    @Test func theTrustIssuesTamperClassesStopTheAuditExport() throws {
        let attacks: [(String, String)] = [
            ("a confidentiality downgrade", "UPDATE versions SET tier = 'team' WHERE document = 'Photo'"),
            ("a false manager", "UPDATE cases SET manager_id = 'joseph'"),
            ("a false status", "UPDATE cases SET status = 'C'"),
            ("a read erased from the trail", "DELETE FROM events WHERE seq = (SELECT MAX(seq) FROM events WHERE type = 'content.read')"),
            ("an event re-typed", "UPDATE events SET type = 'content.refused' WHERE type = 'content.read'"),
            ("a grant added by hand", "INSERT INTO grants SELECT case_number, tier, 'staff:farah', holder_public_key, sealed_key_hash, granted_seq, generation FROM grants WHERE holder = 'staff:grace' AND tier = 'team'"),
            ("an event body edited", "UPDATE events SET body = CAST(replace(CAST(body AS TEXT), 'grace', 'peter') AS BLOB) WHERE type = 'content.read'"),
        ]
        for (name, sql) in attacks {
            let p = try Self.scene()
            try p.tamper(sql)
            do {
                _ = try p.vault.exportAudit(out: p.scratch.file("audit.tar"), by: p["peter"])
                Issue.record("the audit export of a vault with \(name) was written")
            } catch let error as VaultError {
                guard case .integrityFailure = error else { Issue.record("\(name): \(error)"); continue }
            }
            #expect(!FileManager.default.fileExists(atPath: p.scratch.file("audit.tar")), "\(name)")
            #expect(throws: VaultError.self, "\(name)") { try p.vault.controlsReport() }
        }
    }
}
