@testable import CaseVault
import CaseVaultCrypto
import Foundation
import GRDB
import Testing

private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

/// Issue 9, items 7 and 8: disposal by crypto-shredding, approved by two
/// people, certified by a signed event, refused to the wrong people, safe to
/// interrupt.
@Suite struct DisposalTests {
    static func date(_ day: String) -> Date { try! Date(day + "T09:00:00Z", strategy: .iso8601) }
    static let due = date("2027-07-01")

    /// CP-2020-0001 (grace, halima) closed on 2020-06-01 with a team form,
    /// a confidential photo in two versions and a withdrawn note; its 7
    /// years under the example policy's default rule (two approvals by a case
    /// supervisor or a project director) end on 2027-06-01. CP-2020-0002
    /// stays open beside it with its own documents.
    struct Scene {
        let p: Programme
        let gone = "CP-2020-0001", kept = "CP-2020-0002"

        init() throws {
            p = try Programme()
            for client in [1, 2] {
                _ = try p.vault.openCase(category: "CP", admitted: 2020, clientNumber: client, managerID: "grace", supervisorID: "halima",
                                         by: p["halima"], now: DisposalTests.date("2020-01-01"))
            }
            for number in [gone, kept] {
                try p.file(Array("intake of \(number)".utf8), into: number)
                try p.file(Array("photo 1 of \(number)".utf8), into: number, name: "Photo", type: "photo")
                try p.file(Array("photo 2 of \(number)".utf8), into: number, name: "Photo", type: "photo")
            }
            try p.file(Array("a misfiled note".utf8), into: gone, name: "Note", type: "note")
            _ = try p.vault.withdraw(caseNumber: gone, document: "Note", version: 1, reason: "misfiled", by: p["grace"])
            try p.fileClosureForm(into: gone)
            _ = try p.vault.changeStatus(of: gone, to: .closed, reason: "reunified", by: p["halima"], now: DisposalTests.date("2020-06-01"))
            _ = try p.vault.setRetentionPolicy(try DisposalTests.policy(for: p.vault), by: p["amina"])
        }

        func approve(_ ids: [String] = ["halima", "dora"]) throws {
            for id in ids { _ = try p.vault.approveDisposal(cases: [gone], reason: "schedule reached", by: p[id], now: DisposalTests.due) }
        }

        @discardableResult
        func apply(by id: String = "amina", approvedBy: [String] = ["halima", "dora"]) throws -> [DisposalOutcome] {
            try p.vault.applyRetention(approvedBy: approvedBy, by: p[id], now: DisposalTests.due)
        }

        func rows<T>(_ sql: String, _ column: String) throws -> [T] where T: DatabaseValueConvertible {
            try catalogRows(p.vault, sql).map { $0[column] as T }
        }
    }

    static func policy(for vault: Vault) throws -> [UInt8] {
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: repository.appendingPathComponent("Schemas/examples/retention-policy.json"))) as! [String: Any]
        json["vaultId"] = vault.config.vaultId
        json["legalHolds"] = []
        return Array(try JSONSerialization.data(withJSONObject: json))
    }

    @Test func disposalErasesEveryKeyAndObjectAndLeavesACertificateAndACleanVerify() throws {
        let s = try Scene()
        let p = s.p
        let objects = Set(try s.rows("SELECT object_id FROM versions WHERE case_number = '\(s.gone)'", "object_id") as [String])
        let sealed = Set(try s.rows("SELECT sealed_key_hash FROM grants WHERE case_number = '\(s.gone)'", "sealed_key_hash") as [String])
            .union(try s.rows("SELECT sealed_file_key_hash FROM versions WHERE case_number = '\(s.gone)'", "sealed_file_key_hash") as [String])
        #expect(objects.count == 5 && sealed.count == 7 + 5)
        // The file keys, as a holder could unseal them before.
        let fileKeys = try fileKeysOf(s.gone, in: p, with: [p["grace"].boxKeys])
        #expect(fileKeys.count == 5)
        let sealedBytes = try sealed.map { hash in try #require(try p.vault.store.read { try $0.blob(hash: hash) }) }

        try s.approve()
        let outcomes = try s.apply()
        #expect(outcomes.map { "\($0.caseNumber) \($0.result.rawValue) \($0.objectsErased)" } == ["CP-2020-0001 disposed 5"])

        // No object, no sealed key of the case remains; the tombstone does.
        for id in objects { #expect(!FileManager.default.fileExists(atPath: p.objectPath(id))) }
        let blobs = Set(try s.rows("SELECT hash FROM blobs", "hash") as [String])
        #expect(sealed.isDisjoint(with: blobs))
        #expect(try p.vault.caseFile(s.gone).status == .closed)
        #expect(try p.vault.disposal(of: s.gone)?.versions == 5)
        // With every staff key and the recovery key, nothing in the live
        // vault opens the case's file keys, so the copies stay sealed.
        var keys = p.staff.values.map(\.boxKeys)
        keys.append(try recoveryKeys(p))
        let reachable = try reachableSecrets(in: p, from: keys)
        for key in fileKeys { #expect(!reachable.contains { $0.isEqual(to: key) }) }
        // Nor are the sealed keys' bytes anywhere in the catalog's files:
        // secure_delete overwrote their pages, and the WAL was emptied.
        for name in [Vault.catalogFileName, Vault.catalogFileName + "-wal"] {
            guard let file = FileManager.default.contents(atPath: p.vault.path + "/" + name) else { continue }
            for bytes in sealedBytes { #expect(file.range(of: Data(bytes)) == nil, "a sealed key of the case is still in \(name)") }
        }

        // get says what happened; the other case reads as before.
        #expect { _ = try p.read(s.gone, "Intake form", by: "grace") } throws: { error in
            guard case VaultError.notFound(let message) = error else { return false }
            return message.contains("CP-2020-0001 was disposed of on") && message.contains("retention policy v1 (default")
        }
        #expect(try p.read(s.kept, "Photo", by: "halima") == Array("photo 2 of CP-2020-0002".utf8))
        // Nothing is filed into it, changed in it, or reopened.
        #expect(throws: VaultError.self) { try p.file(Array("late".utf8), into: s.gone) }
        #expect(throws: VaultError.self) { _ = try p.vault.changeStatus(of: s.gone, to: .open, reason: "reopen", by: p["halima"]) }
        #expect(throws: VaultError.self) { try p.vault.setHold(s.gone, placing: true, reason: "too late", by: p["dora"]) }

        // The certificate.
        let certificate = try p.vault.disposalCertificate(s.gone)
        #expect(certificate.rule == "default" && certificate.policyVersion == 1 && certificate.disposedBy == "amina")
        #expect(certificate.approvals.map(\.by) == ["halima", "dora"])
        #expect(certificate.documents == 4 && certificate.versions == 5 && certificate.tierKeysErased == 7)
        #expect(Set(certificate.destroyed.map(\.objectId)) == objects)
        #expect(throws: VaultError.self) { _ = try p.vault.disposalCertificate(s.kept) }

        // verify is clean: the events naming the erased keys expect them gone.
        let report = try p.vault.verify(VerifyOptions(readData: .all))
        #expect(report.isClean, "\(report.findings)")
        #expect(report.notes.isEmpty, "\(report.notes)")
        // Running it again changes nothing.
        #expect(try s.apply().isEmpty)
        // A sealed key put back by hand: the certificate is refused, not issued over it.
        let back = sealedBytes[0]
        try p.tamper("INSERT INTO blobs (hash, bytes) VALUES ('\(Blake2b.hash(back).hexString)', x'\(back.hexString)')")
        expectIntegrity("are still in the catalog") { _ = try p.vault.disposalCertificate(s.gone) }
        try p.tamper("DELETE FROM blobs WHERE hash = '\(Blake2b.hash(back).hexString)'")
        #expect(try p.vault.disposalCertificate(s.gone).tierKeysErased == 7)
    }

    @Test(arguments: ["apply", "repair"])
    func anInterruptedDisposalIsFinishedByTheNextRunAndNothingElseChanges(finisher: String) throws {
        let s = try Scene()
        let p = s.p
        try s.approve()
        // Killed after the transaction committed, before any object was deleted.
        let approvals = try p.vault.read { reader, head in try head.signedState(reader).disposalApprovals(s.gone).map(\.seq) }
        _ = try p.vault.write { writer, head in
            try Ledger.append([.disposed(CaseDisposed(case: s.gone, policyVersion: 1, rule: "default", approvals: approvals, documents: 4,
                                                      versions: 5, ciphertextBytes: try totalCiphertext(s.gone, p)))],
                              by: p["amina"], at: Self.due, vaultID: p.vault.config.vaultId, head: &head, in: writer)
        }
        var report = try p.vault.verify()
        #expect(report.isClean, "\(report.findings)")
        #expect(report.notes.map(\.kind) == Array(repeating: .disposalUnfinished, count: 5))
        let events = try p.vault.read { reader, _ in try reader.lastEventSeq() }
        if finisher == "apply" {
            let outcomes = try s.apply()
            #expect(outcomes.map { "\($0.result.rawValue) \($0.objectsErased)" } == ["finished 5"])
        } else {
            report = try p.vault.verify(VerifyOptions(repair: true))
            #expect(report.notes.filter { $0.kind == .leftoverRemoved }.count == 5, "\(report.notes)")
            #expect(try s.apply().isEmpty)
        }
        #expect(try p.vault.read { reader, _ in try reader.lastEventSeq() } == events)  // no second certificate
        report = try p.vault.verify(VerifyOptions(readData: .all))
        #expect(report.isClean && report.notes.isEmpty, "\(report.findings) \(report.notes)")
    }

    /// A supervisor whose clock says 9995 closes a case: its 7 years end in
    /// 10002, which as text ("10002-…") sorts before today. It is kept.
    @Test func aClosureDatedPastTheYear9999IsNeverDue() throws {
        let s = try Scene()
        let p = s.p
        try p.fileClosureForm(into: s.kept)
        _ = try p.vault.changeStatus(of: s.kept, to: .closed, reason: "reunified", by: p["halima"], now: Self.date("9995-01-01"))
        let item = try #require(try p.vault.retentionPlan(asOf: Self.due).first { $0.caseNumber == s.kept })
        #expect(item.action == .keep && item.why.hasPrefix("kept: its keeping period ends after the year 9999"), "\(item.why)")
        #expect(throws: VaultError.self) { _ = try p.vault.approveDisposal(cases: [s.kept], reason: "x", by: p["halima"], now: Self.due) }
        // The case closed in 2020 is due as before.
        #expect(try p.vault.retentionPlan(asOf: Self.due).first { $0.caseNumber == s.gone }?.action == .dispose)
    }

    @Test func twoPeopleDisposeTheRulesRolesApproveAndAHoldOrAReopeningStopsIt() throws {
        let s = try Scene()
        let p = s.p
        // Who may approve: not a case manager, records officer or auditor.
        for id in ["grace", "farah", "peter"] {
            #expect(throws: VaultError.self) { _ = try p.vault.approveDisposal(cases: [s.gone], reason: "x", by: p[id], now: Self.due) }
        }
        // The rule names case supervisors and project directors: not admins.
        #expect(throws: VaultError.self) { _ = try p.vault.approveDisposal(cases: [s.gone], reason: "x", by: p["amina"], now: Self.due) }
        // Not yet due, or not closed.
        #expect(throws: VaultError.invalidInput("CP-2020-0001 is not due for disposal: kept until 2027-06-01: 7 years from closure (2020-06-01)")) {
            _ = try p.vault.approveDisposal(cases: [s.gone], reason: "x", by: p["halima"], now: Self.date("2027-05-01"))
        }
        #expect(throws: VaultError.self) { _ = try p.vault.approveDisposal(cases: [s.kept], reason: "x", by: p["halima"], now: Self.due) }
        // --due approves what is due, once.
        #expect(try p.vault.approveDisposal(cases: nil, reason: "x", by: p["halima"], now: Self.due).map(\.result) == [.approved])
        #expect(try p.vault.approveDisposal(cases: nil, reason: "x", by: p["halima"], now: Self.due).map(\.result) == [.alreadyApproved])

        // Who may carry it out: admins and project directors, never an approver.
        #expect(throws: VaultError.self) { try s.apply(by: "halima") }
        #expect(throws: VaultError.self) { try s.apply(by: "dora", approvedBy: ["dora", "halima"]) }
        // One approval of the two the rule asks: nothing happens.
        var outcomes = try s.apply(approvedBy: ["halima"])
        #expect(outcomes.map(\.result) == [.awaitingApproval])
        #expect(outcomes[0].detail.contains("needs 2 approval(s)"))
        try s.approve(["dora"])
        // A document filed into the closed case voids the approvals given before it.
        try p.file(Array("a late report".utf8), into: s.gone, name: "Late report", type: "report", now: Self.date("2020-06-15"))
        #expect(try s.apply().map(\.result) == [.awaitingApproval])
        try s.approve(["halima", "dora"])
        // Approvals by members not named with --approved-by are not relied on.
        #expect(try s.apply(approvedBy: ["halima"]).map(\.result) == [.awaitingApproval])

        // A hold stops it whatever the approvals.
        try p.vault.setHold(s.gone, placing: true, reason: "court order", by: p["dora"])
        #expect(try s.apply().isEmpty)
        #expect(throws: VaultError.self) { try s.approve(["halima"]) }
        try p.vault.setHold(s.gone, placing: false, reason: "order lifted", by: p["dora"])

        // A reopening voids the approvals given before it.
        _ = try p.vault.reopenCase(s.gone, reason: "the child came back", by: p["halima"])
        _ = try p.vault.changeStatus(of: s.gone, to: .closed, reason: "reunified again", by: p["halima"], now: Self.date("2020-06-01"))
        #expect(try p.vault.read { reader, head in try head.signedState(reader).disposalApprovals(s.gone) }.isEmpty)
        #expect(try s.apply().map(\.result) == [.awaitingApproval])
        try s.approve()
        outcomes = try s.apply()
        #expect(outcomes.map(\.result) == [.disposed])
        #expect(try p.vault.verify().isClean)
    }

    @Test func aDisposalOrApprovalSignedByHandAgainstTheRulesIsRefused() throws {
        let s = try Scene()
        let p = s.p
        try s.approve()
        let approvals = try p.vault.read { reader, head in try head.signedState(reader).disposalApprovals(s.gone).map(\.seq) }
        let bytes = try totalCiphertext(s.gone, p)
        func disposed(_ number: String? = nil, policy: Int = 1, rule: String = "default", approvals a: [Int64]? = nil, documents: Int = 4,
                      versions: Int = 5, bytes b: Int64? = nil) -> EventData {
            .disposed(CaseDisposed(case: number ?? s.gone, policyVersion: policy, rule: rule, approvals: a ?? approvals,
                                   documents: documents, versions: versions, ciphertextBytes: b ?? bytes))
        }
        // Each refused for its own rule, at a time the case is due unless said.
        let early = Self.date("2027-05-31")
        let forged: [(String, EventData, Date, String)] = [
            ("halima", disposed(), Self.due, "a case supervisor may not sign case.disposed"),
            ("grace", disposed(), Self.due, "a case manager may not sign case.disposed"),
            ("dora", disposed(), Self.due, "other than who disposes"),                  // dora approved it herself
            ("amina", disposed(approvals: []), Self.due, "needs 2 approval(s); the disposal names 0"),
            ("amina", disposed(approvals: [approvals[0]]), Self.due, "needs 2 approval(s); the disposal names 1"),
            ("amina", disposed(approvals: [approvals[0], approvals[0]]), Self.due, "ascending"),
            ("amina", disposed(approvals: [approvals[0] - 1, approvals[1]]), Self.due, "is no standing approval"),
            ("amina", disposed(policy: 2), Self.due, "retention policy v2 is not the one in force"),
            ("amina", disposed(rule: "byStatus.C"), Self.due, "the rule that applies is default, not byStatus.C"),
            ("amina", disposed(), early, "is not due for disposal"),                    // dated before its day
            ("amina", disposed(documents: 3), Self.due, "certificate's counts"),        // a certificate that hides a document
            ("amina", disposed(versions: 4), Self.due, "certificate's counts"),
            ("amina", disposed(bytes: bytes - 1), Self.due, "certificate's counts"),
            ("amina", disposed(s.kept), Self.due, "only a closed case is disposed of"),
            ("grace", .disposalApproved(DisposalApproved(case: s.gone, policyVersion: 1, reason: "x")), Self.due, "may not sign"),
            ("halima", .disposalApproved(DisposalApproved(case: s.gone, policyVersion: 1, reason: "x")), Self.due, "already approved"),
            ("dora", .disposalApproved(DisposalApproved(case: s.kept, policyVersion: 1, reason: "x")), Self.due, "only a closed case"),
            ("amina", .disposalApproved(DisposalApproved(case: s.gone, policyVersion: 1, reason: "x")), Self.due, "is not approved by an admin"),
            ("dora", .disposalApproved(DisposalApproved(case: s.gone, policyVersion: 0, reason: "x")), Self.due, "is not the one in force"),
        ]
        for (id, data, at, fragment) in forged {
            expectIntegrity(fragment) {
                _ = try p.vault.write { writer, head in
                    try Ledger.append([data], by: p[id], at: at, vaultID: p.vault.config.vaultId, head: &head, in: writer)
                }
            }
        }
        // After a disposal, nothing is filed into, granted, read from or changed in the case.
        try s.apply()
        let keys = try p.vault.read { reader, _ in try reader.grants(caseNumber: s.gone) }
        let after: [(String, EventData)] = [
            ("farah", .versionFiled(try forgedFiling(into: s.gone, p))),
            ("halima", .statusChanged(StatusChanged(case: s.gone, from: "C", to: "O", reason: "back"))),
            ("grace", .contentRead(ContentRead(case: s.gone, document: "Intake form", version: 1, tier: "team",
                                               object: (try s.rows("SELECT object_id FROM versions WHERE case_number = '\(s.gone)' AND document = 'Intake form'", "object_id") as [String])[0]))),
            ("halima", .tagAdded(CaseTagged(case: s.gone, tag: "late"))),
            ("amina", disposed()),
            ("halima", .grantGiven(GrantGiven(case: s.gone, tier: "team", holder: "staff:joseph", holderPublicKey: p["joseph"].member.boxPublicKeyHex,
                                              sealedKeyHash: keys[0].sealedKeyHash))),
        ]
        for (id, data) in after {
            expectIntegrity("was disposed of") {
                _ = try p.vault.write { writer, head in
                    try Ledger.append([data], by: p[id], at: Self.due, vaultID: p.vault.config.vaultId, head: &head, in: writer)
                }
            }
        }
        #expect(try p.vault.verify().isClean)
    }

    // MARK: Format 4: what retention no longer lets through

    /// The policy of the example, as v2, with `change` applied to its JSON.
    static func policy(for vault: Vault, _ change: (inout [String: Any]) -> Void) throws -> [UInt8] {
        var json = try JSONSerialization.jsonObject(with: Data(try policy(for: vault))) as! [String: Any]
        change(&json)
        return Array(try JSONSerialization.data(withJSONObject: json))
    }

    func appendByHand(_ data: EventData, by id: String, at: Date, _ p: Programme) throws {
        _ = try p.vault.write { writer, head in
            try Ledger.append([data], by: p[id], at: at, vaultID: p.vault.config.vaultId, head: &head, in: writer)
        }
    }

    /// halima approved as the case's supervisor, then left: her approval no
    /// longer counts, for `retention apply` nor in a disposal signed by hand.
    @Test func anApprovalBySomeoneWhoLeftNoLongerCounts() throws {
        let s = try Scene()
        let p = s.p
        try s.approve()
        let approvals = try p.vault.read { reader, head in try head.signedState(reader).disposalApprovals(s.gone).map(\.seq) }
        _ = try p.vault.recordDeparture(of: "halima", reason: "end of contract", by: p["amina"])
        let outcomes = try s.apply()
        #expect(outcomes.map(\.result) == [.awaitingApproval], "\(outcomes)")
        expectIntegrity("no longer counts: 'halima' left the staff since") {
            try appendByHand(.disposed(CaseDisposed(case: s.gone, policyVersion: 1, rule: "default", approvals: approvals, documents: 4,
                                                    versions: 5, ciphertextBytes: try totalCiphertext(s.gone, p))), by: "amina", at: Self.due, p)
        }
        #expect(try p.vault.verify().isClean)
    }

    /// A supervisor's approval is given as the case's supervisor: once the
    /// case has another (a handover since), it no longer counts; a project
    /// director's stands while they are on the staff.
    @Test func aSupervisorsApprovalLapsesWhenTheCaseIsNoLongerTheirs() throws {
        let s = try Scene()
        let p = s.p
        try s.approve()
        try p.vault.read { reader, head in
            let signed = head.signedState(reader)
            var state = try signed.existingCase(s.gone)
            let approvals = try signed.disposalApprovals(s.gone)
            let halima = try #require(approvals.first { $0.by == "halima" }), dora = try #require(approvals.first { $0.by == "dora" })
            #expect(try Vault.lapsedApproval(halima, of: state, signed) == nil)
            state.case.supervisor = "someone-else"
            #expect(try Vault.lapsedApproval(halima, of: state, signed) == "'halima' no longer supervises \(s.gone)")
            #expect(try Vault.lapsedApproval(dora, of: state, signed) == nil)
        }
    }

    /// A withdrawal changes the case the approvers judged: their approvals
    /// lapse, as for a filing. And under `last-filing` a withdrawn version
    /// still counts: withdrawing the newest filing does not bring the
    /// case's end forward.
    @Test func aWithdrawalNeitherKeepsApprovalsNorShortensTheKeeping() throws {
        let s = try Scene()
        let p = s.p
        try s.approve()
        _ = try p.vault.withdraw(caseNumber: s.gone, document: "Intake form", version: 1, reason: "filed in error", by: p["grace"])
        #expect(try p.vault.read { reader, head in try head.signedState(reader).disposalApprovals(s.gone) }.isEmpty)
        #expect(try s.apply().map(\.result) == [.awaitingApproval])

        _ = try p.vault.setRetentionPolicy(try Self.policy(for: p.vault) { json in
            var rule = json["default"] as! [String: Any]
            rule["countFrom"] = "last-filing"
            json["default"] = rule
        }, by: p["amina"])
        // A court order filed on 2027-02-01 into the case closed in 2020, after every other filing: kept until 2034.
        try p.file(Array("a court order".utf8), into: s.gone, name: "Court order", type: "legal", now: Self.date("2027-02-01"))
        func item() throws -> RetentionItem { try #require(try p.vault.retentionPlan(asOf: Self.due).first { $0.caseNumber == s.gone }) }
        let before = try item()
        #expect(before.dueOn == "2034-02-01", "\(before)")
        _ = try p.vault.withdraw(caseNumber: s.gone, document: "Court order", version: 1, reason: "filed in error", by: p["grace"])
        let after = try item()
        #expect(after.action == .keep && after.dueOn == "2034-02-01", "\(after.why)")
        #expect(throws: VaultError.self) { try s.approve(["halima"]) }
        #expect(try p.vault.verify().isClean)
    }

    /// Retention counts from a version's stamp date: from format 4 a
    /// hand-signed filing may not date its stamp away from its event.
    @Test func aHandSignedStampMayNotCarryAnotherTime() throws {
        let s = try Scene()
        let p = s.p
        let earlier = try forgedFiling(into: s.kept, p)
        let at = Self.date("2027-03-01")
        func filing(dated date: Date) -> EventData {
            var data = earlier
            let t = earlier.stamp
            data.stamp = Stamp(date: Stamp.dateString(date, in: .gmt), caseNumber: t.caseNumber, caseStatus: t.caseStatus, report: t.report,
                               caseManager: t.caseManager, caseSupervisor: t.caseSupervisor, version: 2, filedBy: t.filedBy, filedByName: t.filedByName)
            return .versionFiled(data)
        }
        for date in [Self.date("9999-01-01"), Self.date("2020-01-01"), at.addingTimeInterval(3_600)] {
            expectIntegrity("is not the event's time") { try appendByHand(filing(dated: date), by: "farah", at: at, p) }
        }
        // A moment before its event, as casevault stamps a filing, it is accepted.
        try appendByHand(filing(dated: at.addingTimeInterval(-30)), by: "farah", at: at, p)
    }

    /// A departure recorded before the hold was placed has nothing to do
    /// with it: the director added by that admin later releases it.
    @Test func aDepartureBeforeTheHoldDoesNotBlockItsRelease() throws {
        let s = try Scene()
        let p = s.p
        func add(_ id: String, _ role: Role, by adder: StaffIdentity) throws -> StaffIdentity {
            try p.vault.addStaff(id: id, name: id.capitalized, role: role, passphrase: try p.scratch.passphrase("\(id) passphrase!"), by: adder)
            return try p.vault.unlock(staffID: id, passphrase: try p.scratch.passphrase("\(id) passphrase!"))
        }
        let otieno = try add("otieno", .admin, by: p["amina"])
        _ = try p.vault.recordDeparture(of: "dora", reason: "left", by: p["amina"])
        let dina = try add("dina", .projectDirector, by: otieno)
        try p.vault.setHold(s.gone, placing: true, reason: "court order", by: dina)
        _ = try p.vault.recordDeparture(of: "dina", reason: "left", by: otieno)
        let dana = try add("dana", .projectDirector, by: p["amina"])
        try p.vault.setHold(s.gone, placing: false, reason: "order lifted", by: dana)
        #expect(try p.vault.verify().isClean)
    }

    /// Filed into a closed case (a late letter), a document is kept its own
    /// full period under a rule counted from closure: a case already due is
    /// no longer, and its new document is not disposed of with it.
    @Test func aDocumentFiledAfterClosureIsKeptItsOwnPeriod() throws {
        let s = try Scene()
        let p = s.p
        #expect(try p.vault.retentionPlan(asOf: Self.due).first { $0.caseNumber == s.gone }?.action == .dispose)
        try p.file(Array("a late letter".utf8), into: s.gone, name: "Late letter", type: "letter", now: Self.date("2027-02-01"))
        let item = try #require(try p.vault.retentionPlan(asOf: Self.due).first { $0.caseNumber == s.gone })
        #expect(item.action == .keep && item.dueOn == "2034-02-01", "\(item.why)")
        #expect(throws: VaultError.self) { try s.approve(["halima"]) }
    }

    /// A case the retention policy's `legalHolds` name keeps its documents:
    /// none is moved out of it, by the command or by hand.
    @Test func nothingMovesOutOfACaseThePolicyHolds() throws {
        let s = try Scene()
        let p = s.p
        _ = try p.vault.setRetentionPolicy(try Self.policy(for: p.vault) { json in
            json["legalHolds"] = [["case": s.kept, "reason": "court order 12/2026", "placedBy": "ruth.wambui", "placedAt": "2026-11-30T09:00:00Z"]]
        }, by: p["amina"])
        let third = try p.vault.openCase(category: "CP", admitted: 2020, clientNumber: 3, managerID: "grace", supervisorID: "halima",
                                         by: p["halima"]).number.description
        #expect { _ = try p.vault.moveDocument(caseNumber: s.kept, document: "Intake form", to: third, reason: "misfiled", by: p["grace"]) }
            throws: { error in
                guard case VaultError.accessDenied(let message) = error else { return false }
                return message.contains("retention policy v2 holds it")
            }
        expectIntegrity("retention policy v2 holds it") {
            try appendByHand(.documentMoved(DocumentMoved(case: s.kept, document: "Intake form", to: third, toDocument: "Intake form",
                                                          reason: "misfiled", versions: [])), by: "grace", at: Date(), p)
        }
        // Nor does the whole case leave for another vault.
        expectIntegrity("retention policy v2 holds it") {
            try appendByHand(.caseTransferred(CaseTransferred(case: s.kept, toVault: UUID().uuidString.lowercased(), toMember: "otieno",
                                                              toBoxPublicKey: BoxKeyPair().publicKey.bytes.hexString, reason: "moved office")),
                             by: "halima", at: Date(), p)
        }
    }

    /// Under last-filing, moving a closed case's newest document out brought
    /// the rest's end forward; moved into a closed case that is due, a
    /// document was disposed of with it, its own keeping never run: nothing
    /// leaves or goes into a closed case.
    @Test func nothingMovesOutOfOrIntoAClosedCase() throws {
        let s = try Scene()
        let p = s.p
        #expect(throws: VaultError.self) {
            _ = try p.vault.moveDocument(caseNumber: s.gone, document: "Intake form", to: s.kept, reason: "misfiled", by: p["grace"])
        }
        expectIntegrity("nothing leaves a closed case") {
            try appendByHand(.documentMoved(DocumentMoved(case: s.gone, document: "Intake form", to: s.kept, toDocument: "Intake form",
                                                          reason: "misfiled", versions: [])), by: "grace", at: Date(), p)
        }
        #expect { _ = try p.vault.moveDocument(caseNumber: s.kept, document: "Intake form", to: s.gone, reason: "misfiled", by: p["grace"]) }
            throws: { error in
                guard case VaultError.invalidInput(let message) = error else { return false }
                return message.contains("nothing is moved into a closed case")
            }
        expectIntegrity("nothing is moved into a closed case") {
            try appendByHand(.documentMoved(DocumentMoved(case: s.kept, document: "Intake form", to: s.gone, toDocument: "Intake form",
                                                          reason: "misfiled", versions: [])), by: "grace", at: Date(), p)
        }
    }

    /// A project director's hold is not the admin's to lift: the admin
    /// also sets the policy and adds the staff who approve.
    @Test func anAdminDoesNotReleaseAHoldADirectorPlaced() throws {
        let s = try Scene()
        let p = s.p
        try p.vault.setHold(s.gone, placing: true, reason: "court order", by: p["dora"])
        #expect { try p.vault.setHold(s.gone, placing: false, reason: "lifted", by: p["amina"]) }
            throws: { error in
                guard case VaultError.accessDenied(let message) = error else { return false }
                return message.contains("'dora', a project director, placed the hold on \(s.gone): it is released by them, or by a project director who was on the staff when it was placed")
            }
        expectIntegrity("placed the hold") {
            try appendByHand(.holdReleased(CaseHold(case: s.gone, reason: "lifted")), by: "amina", at: Date(), p)
        }
        // Nor a director the admin adds after the hold was placed.
        try p.vault.addStaff(id: "dora2", name: "Dora Two", role: .projectDirector, passphrase: try p.scratch.passphrase("dora2 passphrase!"),
                             by: p["amina"])
        let dora2 = try p.vault.unlock(staffID: "dora2", passphrase: try p.scratch.passphrase("dora2 passphrase!"))
        #expect { try p.vault.setHold(s.gone, placing: false, reason: "lifted", by: dora2) }
            throws: { error in
                guard case VaultError.accessDenied(let message) = error else { return false }
                return message.contains("'dora2' joined the staff after it was placed")
            }
        expectIntegrity("joined the staff after it was placed") {
            _ = try p.vault.write { writer, head in
                try Ledger.append([.holdReleased(CaseHold(case: s.gone, reason: "lifted"))], by: dora2, at: Date(),
                                  vaultID: p.vault.config.vaultId, head: &head, in: writer)
            }
        }
        try p.vault.setHold(s.gone, placing: false, reason: "order lifted", by: p["dora"])
        // A hold does not outlive everyone who could lift it: once its placer and every director on the
        // staff then have left, a director on the staff now releases it.
        try p.vault.setHold(s.gone, placing: true, reason: "complaint", by: p["halima"])
        try p.vault.addStaff(id: "dora3", name: "Dora Three", role: .projectDirector, passphrase: try p.scratch.passphrase("dora3 passphrase!"),
                             by: p["amina"])
        let dora3 = try p.vault.unlock(staffID: "dora3", passphrase: try p.scratch.passphrase("dora3 passphrase!"))
        #expect(throws: VaultError.self) { try p.vault.setHold(s.gone, placing: false, reason: "done", by: dora3) }
        _ = try p.vault.recordDeparture(of: "halima", reason: "left", by: p["amina"])
        _ = try p.vault.recordDeparture(of: "dora", reason: "left", by: p["amina"])
        #expect(throws: VaultError.self) { try p.vault.setHold(s.gone, placing: false, reason: "done", by: dora3) }  // dora2 is still here
        _ = try p.vault.recordDeparture(of: "dora2", reason: "left", by: p["amina"])
        // Not by a director added by the admin who recorded those departures: one admin alone does not lift it.
        #expect { try p.vault.setHold(s.gone, placing: false, reason: "done", by: dora3) }
            throws: { error in
                guard case VaultError.accessDenied(let message) = error else { return false }
                return message.contains("'dora3' was added by 'amina', who recorded one of those departures")
            }
        // A director another admin added releases it. (Admins choose first passphrases: a second admin
        // account could be the first admin's own; SECURITY.md §12 says so.)
        try p.vault.addStaff(id: "otieno", name: "Otieno Admin", role: .admin, passphrase: try p.scratch.passphrase("otieno passphrase!"),
                             by: p["amina"])
        let otieno = try p.vault.unlock(staffID: "otieno", passphrase: try p.scratch.passphrase("otieno passphrase!"))
        try p.vault.addStaff(id: "dora4", name: "Dora Four", role: .projectDirector, passphrase: try p.scratch.passphrase("dora4 passphrase!"),
                             by: otieno)
        let dora4 = try p.vault.unlock(staffID: "dora4", passphrase: try p.scratch.passphrase("dora4 passphrase!"))
        try p.vault.setHold(s.gone, placing: false, reason: "complaint settled", by: dora4)
        // An admin's own hold, the admin lifts.
        try p.vault.setHold(s.gone, placing: true, reason: "audit", by: p["amina"])
        try p.vault.setHold(s.gone, placing: false, reason: "audit done", by: p["amina"])
        #expect(try p.vault.verify().isClean)
    }

    @Test func anObjectALiveCaseAlsoNamesIsKeptWhenItsKeysGo() throws {
        let s = try Scene()
        let p = s.p
        try s.approve()
        // A records officer signs by hand a filing into the open case that
        // names an object of the case to be disposed of.
        let shared = try #require(try p.vault.store.read { try $0.versions(caseNumber: s.gone, document: "Intake form") }.first)
        let stamp = Stamp(date: "2027-06-30T12:00:00+03:00", caseNumber: s.kept, caseStatus: .open, report: "Copy", caseManager: "Grace Otieno",
                          caseSupervisor: "Halima Abdi", version: 1, filedBy: "farah", filedByName: "Farah Nasser")
        _ = try p.vault.write { writer, head in
            try Ledger.append([.versionFiled(VersionFiled(case: s.kept, document: "Copy", version: 1, type: "note", tier: "team",
                                                          object: shared.objectId, size: shared.size, ciphertextSize: shared.ciphertextSize,
                                                          sealedFileKeyHash: String(repeating: "cd", count: 32), stamp: stamp, schema: nil))],
                              by: p["farah"], at: Self.due, vaultID: p.vault.config.vaultId, head: &head, in: writer)
        }
        #expect(try s.apply().map { "\($0.result.rawValue) \($0.objectsErased)" } == ["disposed 4"])
        #expect(FileManager.default.fileExists(atPath: p.objectPath(shared.objectId)))
        #expect(try p.vault.disposal(of: s.gone) != nil)
    }

    @Test func disposalRowsEditedByHandAreCaught() throws {
        let s = try Scene()
        let p = s.p
        try s.approve()
        try p.tamper("UPDATE disposal_approvals SET by = 'amina' WHERE by = 'dora'")
        expectIntegrity("disposal approvals of CP-2020-0001") { try s.apply() }
        #expect(try p.vault.verify().findings.contains { $0.kind == .rowChanged && $0.subject.contains("disposal approvals") })
        try p.tamper("UPDATE disposal_approvals SET by = 'dora' WHERE by = 'amina'")
        try s.apply()
        // A sealed key of the case put back after disposal is a fault.
        let sealed = try #require(try catalogRows(p.vault, "SELECT sealed_key_hash FROM grants WHERE case_number = '\(s.gone)'").first)
        let hash: String = sealed["sealed_key_hash"]
        try p.tamper("INSERT INTO blobs (hash, bytes) VALUES ('\(hash)', zeroblob(80))")
        #expect(try p.vault.verify().findings.contains { $0.kind == .blobNotErased && $0.subject == "blob \(hash)" })
        try p.tamper("DELETE FROM blobs WHERE hash = '\(hash)'")
        // The tombstone deleted: the case looks alive, but is not believed.
        try p.tamper("DELETE FROM disposals")
        expectIntegrity("the disposal of CP-2020-0001") { _ = try p.read(s.gone, "Intake form", by: "grace") }
        #expect(try p.vault.verify().findings.contains { $0.kind == .rowMissing && $0.subject.contains("disposals") })
    }

    // MARK: Helpers

    /// The file keys of a case's versions, unsealed with the holders' keys.
    func fileKeysOf(_ number: String, in p: Programme, with holders: [BoxKeyPair]) throws -> [SecureBytes] {
        let (grants, versions) = try p.vault.store.read { (try $0.grants(caseNumber: number), try $0.versions(caseNumber: number, document: nil)) }
        var tiers: [String: BoxKeyPair] = [:]
        for grant in grants {
            let sealed = try #require(try p.vault.store.read { try $0.blob(hash: grant.sealedKeyHash) })
            for holder in holders {
                if let secret = try? SealedBox.open(sealed, with: holder) { tiers[grant.tier] = try BoxKeyPair(secretKey: secret) }
            }
        }
        return try versions.map { version in
            let sealed = try #require(try p.vault.store.read { try $0.blob(hash: version.sealedFileKeyHash) })
            return try SealedBox.open(sealed, with: try #require(tiers[version.tier]))
        }
    }

    /// Every secret the live vault's blobs give up to `keys`, and to the
    /// key pairs those secrets make, to a fixed point.
    func reachableSecrets(in p: Programme, from keys: [BoxKeyPair]) throws -> [SecureBytes] {
        let blobs = try p.vault.store.read { reader in
            var all: [[UInt8]] = []
            try reader.forEachBlob { _, bytes in all.append(bytes) }
            return all
        }
        var pairs = keys, found: [SecureBytes] = [], tried = 0
        while tried < pairs.count {
            let pair = pairs[tried]
            tried += 1
            for blob in blobs {
                guard let secret = try? SealedBox.open(blob, with: pair), !found.contains(where: { $0.isEqual(to: secret) }) else { continue }
                found.append(secret)
                if secret.count == 32, let next = try? BoxKeyPair(secretKey: secret) { pairs.append(next) }
            }
        }
        return found
    }

    func recoveryKeys(_ p: Programme) throws -> BoxKeyPair {
        let text = try String(contentsOfFile: p.scratch.file("recovery.txt"), encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("key ") })
        return try BoxKeyPair(secretKey: SecureBytes(copying: [UInt8](hexString: line.dropFirst(4).replacingOccurrences(of: "-", with: ""))!))
    }

    func totalCiphertext(_ number: String, _ p: Programme) throws -> Int64 {
        try p.vault.store.read { try $0.versions(caseNumber: number, document: nil) }.reduce(0) { $0 + $1.ciphertextSize }
    }

    /// A filing's data as a records officer would sign it into the case.
    func forgedFiling(into number: String, _ p: Programme) throws -> VersionFiled {
        let version = try #require(try p.vault.store.read { try $0.versions(caseNumber: number, document: "Intake form") }.first)
        return VersionFiled(case: number, document: "Intake form", version: 2, type: version.type, tier: version.tier, object: version.objectId,
                            size: version.size, ciphertextSize: version.ciphertextSize,
                            sealedFileKeyHash: String(repeating: "ab", count: 32), stamp: version.stamp, schema: nil)
    }
}
