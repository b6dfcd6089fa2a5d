@testable import CaseVault
import CaseVaultCrypto
@testable import CaseVaultSQLite
import Foundation
import GRDB
import Testing

private func expectRefused(_ fragment: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    #expect(sourceLocation: sourceLocation) { try body() } throws: { error in
        switch error as? VaultError {
        case .invalidInput(let message)?, .accessDenied(let message)?, .notFound(let message)?, .alreadyExists(let message)?:
            return message.contains(fragment)
        default: return false
        }
    }
}

/// Issue 9, item 3: corrections are signed withdrawals, never deletions.
@Suite struct WithdrawalTests {
    @Test func aWithdrawnVersionStaysInTheHistoryAndIsNoLongerCurrent() throws {
        let p = try Programme()
        try p.openCase()
        try p.file(Array("first".utf8), name: "Home visit")
        try p.file(Array("filed into the wrong case".utf8), name: "Home visit")
        let info = try p.vault.withdraw(caseNumber: "CP-2024-0042", document: "Home visit", version: 2,
                                        reason: "belongs to another child", by: p["grace"])
        #expect(info.withdrawal?.by == "grace" && info.withdrawal?.reason == "belongs to another child")
        // The current version is 1 again, for get, case show and history.
        #expect(try p.read("CP-2024-0042", "Home visit") == Array("first".utf8))
        #expect(try p.vault.latestVersions(caseNumber: "CP-2024-0042").map { "\($0.document) v\($0.version)" } == ["Home visit v1"])
        let history = try p.vault.versions(caseNumber: "CP-2024-0042", document: "Home visit")
        #expect(history.map(\.version) == [1, 2])
        #expect(history.map { $0.withdrawal != nil } == [false, true])
        // Still readable when asked for, by its holders.
        var withdrawn: [UInt8] = []
        let read = try p.vault.read(caseNumber: "CP-2024-0042", document: "Home visit", version: 2, by: p["halima"]) {
            withdrawn.append(contentsOf: $0)
        }
        #expect(withdrawn == Array("filed into the wrong case".utf8))
        #expect(read.withdrawal?.reason == "belongs to another child")
        // The next filing is version 3 and current.
        try p.file(Array("third".utf8), name: "Home visit")
        #expect(try p.read("CP-2024-0042", "Home visit") == Array("third".utf8))
        #expect(try p.vault.verify().isClean)
    }

    @Test func whenEveryVersionIsWithdrawnNoneIsCurrent() throws {
        let p = try Programme()
        try p.openCase()
        try p.file(Array("only".utf8), name: "Wrong photo", type: "photo")
        try p.vault.withdraw(caseNumber: "CP-2024-0042", document: "Wrong photo", version: 1, reason: "misfiled", by: p["halima"])
        expectRefused("every version of 'Wrong photo' of CP-2024-0042 is withdrawn") { _ = try p.read("CP-2024-0042", "Wrong photo") }
        #expect(try p.read("CP-2024-0042", "Wrong photo", version: 1) == Array("only".utf8))
        let shown = try #require(try p.vault.latestVersions(caseNumber: "CP-2024-0042").first)
        #expect(shown.version == 1 && shown.withdrawal != nil)
    }

    @Test func onlyTheCasesManagerOrSupervisorWithdrawsOnceWithAReason() throws {
        let p = try Programme()
        try p.openCase()
        try p.file(Array("x".utf8))
        for id in ["farah", "joseph", "dora", "amina", "peter"] {
            expectRefused("withdraws a version of CP-2024-0042") {
                try p.vault.withdraw(caseNumber: "CP-2024-0042", document: "Intake form", version: 1, reason: "x", by: p[id])
            }
        }
        expectRefused("give a reason") {
            try p.vault.withdraw(caseNumber: "CP-2024-0042", document: "Intake form", version: 1, reason: " ", by: p["grace"])
        }
        expectRefused("has no version 2") {
            try p.vault.withdraw(caseNumber: "CP-2024-0042", document: "Intake form", version: 2, reason: "x", by: p["grace"])
        }
        try p.vault.withdraw(caseNumber: "CP-2024-0042", document: "Intake form", version: 1, reason: "duplicate", by: p["grace"])
        expectRefused("already withdrawn") {
            try p.vault.withdraw(caseNumber: "CP-2024-0042", document: "Intake form", version: 1, reason: "again", by: p["halima"])
        }
    }

    @Test func aWithdrawnClosureFormDoesNotCloseACase() throws {
        let p = try Programme()
        try p.openCase()
        try p.fileClosureForm()
        let closure = try #require(try p.vault.latestVersions(caseNumber: "CP-2024-0042").first)
        try p.vault.withdraw(caseNumber: "CP-2024-0042", document: closure.document, version: 1, reason: "premature", by: p["halima"])
        expectRefused("needs a filed closure form") { try p.move(.closed, by: "halima") }
    }

    // MARK: Attacks

    @Test func aWithdrawalSignedByTheWrongMemberIsRefusedByTheProjection() throws {
        let p = try Programme()
        try p.openCase()
        try p.file(Array("x".utf8))
        let forged = EventData.versionWithdrawn(VersionWithdrawn(case: "CP-2024-0042", document: "Intake form", version: 1, reason: "hide it"))
        for id in ["farah", "joseph"] {
            expectIntegrity("breaks the rules") {
                _ = try p.vault.write { writer, head in
                    try Ledger.append([forged], by: p[id], at: Date(), vaultID: p.vault.config.vaultId, head: &head, in: writer)
                }
            }
        }
        #expect(try p.vault.versions(caseNumber: "CP-2024-0042").allSatisfy { $0.withdrawal == nil })
    }

    /// Someone with write access hides a version by marking it withdrawn,
    /// or un-withdraws one, with SQLite alone.
    @Test func withdrawalRowsWrittenByHandAreCaught() throws {
        let p = try Programme()
        try p.openCase()
        try p.file(Array("v1".utf8))
        try p.file(Array("v2".utf8))
        try p.tamper("""
            INSERT INTO withdrawals (case_number, document, version, seq, at, by, reason)
            VALUES ('CP-2024-0042', 'Intake form', 2, 20, '2026-01-01T00:00:00Z', 'grace', 'forged')
            """)
        expectIntegrity("the withdrawals of 'Intake form' of CP-2024-0042") { _ = try p.read() }
        var report = try p.vault.verify()
        #expect(report.findings.contains { $0.kind == .rowAdded && $0.subject == "withdrawals CP-2024-0042 'Intake form' v2" })
        try p.tamper("DELETE FROM withdrawals")
        try p.vault.withdraw(caseNumber: "CP-2024-0042", document: "Intake form", version: 2, reason: "wrong child", by: p["grace"])
        try p.tamper("DELETE FROM withdrawals")
        expectIntegrity("the withdrawals of 'Intake form' of CP-2024-0042") { _ = try p.read() }
        report = try p.vault.verify()
        #expect(report.findings.contains { $0.kind == .rowMissing && $0.subject == "withdrawals CP-2024-0042 'Intake form' v2" })
    }
}

/// Issue 9, item 3: a misfiled document moves, keys and all.
@Suite struct MoveTests {
    /// CP-2024-0042 (grace, halima) holds "Notes" v1 (team), v2
    /// (confidential, so the document is), v3 withdrawn; CP-2024-0043
    /// (joseph, halima) is where it belongs.
    func programme() throws -> Programme {
        let p = try Programme()
        try p.openCase()
        try p.openCase(client: 43, manager: "joseph")
        try p.file(Array("notes v1".utf8), name: "Notes")
        try p.file(Array("notes v2, confidential".utf8), name: "Notes", confidential: true)
        try p.file(Array("notes v3".utf8), name: "Notes")
        try p.vault.withdraw(caseNumber: "CP-2024-0042", document: "Notes", version: 3, reason: "duplicate", by: p["grace"])
        return p
    }

    @Test func aMovedDocumentOpensInItsNewCaseForThatCasesHoldersOnly() throws {
        let p = try programme()
        let before = try p.vault.versions(caseNumber: "CP-2024-0042", document: "Notes")
        let oldHashes = try p.vault.store.read { try $0.versions(caseNumber: "CP-2024-0042", document: "Notes") }.map(\.sealedFileKeyHash)
        let moved = try p.vault.moveDocument(caseNumber: "CP-2024-0042", document: "Notes", to: "CP-2024-0043",
                                             reason: "about the other child", by: p["grace"])
        #expect(moved.map(\.version) == [1, 2, 3])
        #expect(moved.map(\.tier) == [.team, .confidential, .confidential])
        #expect(moved.map(\.stamp) == before.map(\.stamp))  // stamped as filed
        #expect(moved.map { $0.withdrawal != nil } == [false, false, true])

        // The target's holders read every version; its current is v2.
        #expect(try p.read("CP-2024-0043", "Notes", by: "joseph") == Array("notes v2, confidential".utf8))
        #expect(try p.read("CP-2024-0043", "Notes", version: 1, by: "joseph") == Array("notes v1".utf8))
        #expect(try p.read("CP-2024-0043", "Notes", version: 3, by: "halima") == Array("notes v3".utf8))
        #expect(try p.read("CP-2024-0043", "Notes", version: 1, by: "dora") == Array("notes v1".utf8))  // team tier
        #expect(throws: VaultError.self) { _ = try p.read("CP-2024-0043", "Notes", version: 2, by: "dora") }
        // The source's manager, who does not hold the target, reads it nowhere.
        #expect(throws: VaultError.self) { _ = try p.read("CP-2024-0043", "Notes", version: 1, by: "grace") }
        #expect { _ = try p.read("CP-2024-0042", "Notes", by: "grace") } throws: { error in
            guard case VaultError.notFound(let message) = error else { return false }
            return message.contains("'Notes' was moved from CP-2024-0042 to CP-2024-0043 as 'Notes'") && message.contains("about the other child")
        }
        // Her tier keys of the source open none of the new sealed file keys,
        // and the old sealed file keys are gone from the catalog.
        let blobs = Set(try catalogRows(p.vault, "SELECT hash FROM blobs").map { $0["hash"] as String })
        let state = try p.vault.store.read { try $0.grants(caseNumber: "CP-2024-0042") }
        for grant in state where grant.holder == "staff:grace" {
            let sealedTier = try #require(try p.vault.store.read { try $0.blob(hash: grant.sealedKeyHash) })
            let tierKeys = try BoxKeyPair(secretKey: try SealedBox.open(sealedTier, with: p["grace"].boxKeys))
            for version in try p.vault.store.read({ try $0.versions(caseNumber: "CP-2024-0043", document: "Notes") }) {
                let sealed = try #require(try p.vault.store.read { try $0.blob(hash: version.sealedFileKeyHash) })
                #expect(throws: (any Error).self) { _ = try SealedBox.open(sealed, with: tierKeys) }
            }
        }
        #expect(oldHashes.count == 3)
        #expect(Set(oldHashes).isDisjoint(with: blobs))

        // The source keeps a tombstone; the target files on.
        let moves = try p.vault.movedDocuments(of: "CP-2024-0042")
        #expect(moves.map { "\($0.document) → \($0.toCase) \($0.toDocument) (\($0.versions))" } == ["Notes → CP-2024-0043 Notes (3)"])
        #expect(try p.vault.latestVersions(caseNumber: "CP-2024-0042").isEmpty)
        let v4 = try p.file(Array("notes v4".utf8), into: "CP-2024-0043", name: "Notes", by: "joseph")
        #expect(v4.version == 4 && v4.stamp.caseNumber == "CP-2024-0043" && v4.tier == .confidential)
        #expect(try p.read("CP-2024-0043", "Notes", by: "joseph") == Array("notes v4".utf8))
        // And a new document of that name can be filed in the source again.
        try p.file(Array("the right notes".utf8), name: "Notes")
        #expect(try p.read("CP-2024-0042", "Notes") == Array("the right notes".utf8))
        let report = try p.vault.verify(VerifyOptions(readData: .all))
        #expect(report.isClean, "\(report.findings)")
    }

    @Test func onlyTheSourceCasesManagerOrSupervisorMovesAndNamesMustBeFree() throws {
        let p = try programme()
        for id in ["joseph", "farah", "dora", "amina"] {
            expectRefused("moves a document of CP-2024-0042") {
                try p.vault.moveDocument(caseNumber: "CP-2024-0042", document: "Notes", to: "CP-2024-0043", reason: "x", by: p[id])
            }
        }
        try p.file(Array("theirs".utf8), into: "CP-2024-0043", name: "Notes", by: "joseph")
        expectRefused("already has a document named 'Notes'") {
            try p.vault.moveDocument(caseNumber: "CP-2024-0042", document: "Notes", to: "CP-2024-0043", reason: "x", by: p["halima"])
        }
        expectRefused("already in CP-2024-0042") {
            try p.vault.moveDocument(caseNumber: "CP-2024-0042", document: "Notes", to: "CP-2024-0042", reason: "x", by: p["halima"])
        }
        expectRefused("no case CP-2024-0099") {
            try p.vault.moveDocument(caseNumber: "CP-2024-0042", document: "Notes", to: "CP-2024-0099", reason: "x", by: p["halima"])
        }
        let moved = try p.vault.moveDocument(caseNumber: "CP-2024-0042", document: "Notes", to: "CP-2024-0043", name: "Notes (from 0042)",
                                             reason: "misfiled", by: p["halima"])
        #expect(moved.first?.document == "Notes (from 0042)")
        #expect(try p.read("CP-2024-0043", "Notes (from 0042)", version: 1, by: "joseph") == Array("notes v1".utf8))
        #expect(try p.vault.verify().isClean)
    }

    /// Signed around the command: a member who may not, or a move that
    /// leaves a version behind, is refused by the projection.
    @Test func aMoveBreakingTheRulesIsRefusedByTheProjection() throws {
        let p = try programme()
        let hash = String(repeating: "ab", count: 32)
        let all = (1...3).map { DocumentMoved.Resealed(version: $0, sealedFileKeyHash: hash) }
        let forged: [(String, DocumentMoved)] = [
            ("joseph", DocumentMoved(case: "CP-2024-0042", document: "Notes", to: "CP-2024-0043", toDocument: "Notes", reason: "mine now", versions: all)),
            ("grace", DocumentMoved(case: "CP-2024-0042", document: "Notes", to: "CP-2024-0043", toDocument: "Notes", reason: "x",
                                    versions: Array(all.prefix(2)))),
            ("grace", DocumentMoved(case: "CP-2024-0042", document: "Notes", to: "CP-2024-0042", toDocument: "Notes 2", reason: "x", versions: all)),
            ("grace", DocumentMoved(case: "CP-2024-0042", document: "Notes", to: "CP-2024-0043", toDocument: "a/b", reason: "x", versions: all)),
        ]
        for (id, data) in forged {
            expectIntegrity("breaks the rules") {
                _ = try p.vault.write { writer, head in
                    try Ledger.append([.documentMoved(data)], by: p[id], at: Date(), vaultID: p.vault.config.vaultId, head: &head, in: writer)
                }
            }
        }
        #expect(try p.read("CP-2024-0042", "Notes", version: 1) == Array("notes v1".utf8))
    }

    /// After a move, rows put back by hand in the source are caught.
    @Test func theSourceRowsPutBackByHandAreCaught() throws {
        let p = try programme()
        let documents = try catalogRows(p.vault, "SELECT * FROM documents WHERE name = 'Notes'")
        try p.vault.moveDocument(caseNumber: "CP-2024-0042", document: "Notes", to: "CP-2024-0043", reason: "misfiled", by: p["grace"])
        let row = try #require(documents.first)
        try p.tamper("INSERT INTO documents VALUES ('CP-2024-0042', 'Notes', '\(row["type"] as String)', 0, 3, 1)")
        expectIntegrity("document 'Notes' of CP-2024-0042") { _ = try p.read("CP-2024-0042", "Notes") }
        let report = try p.vault.verify()
        #expect(report.findings.contains { $0.kind == .rowAdded && $0.subject == "documents CP-2024-0042 'Notes'" })
        try p.tamper("DELETE FROM documents WHERE case_number = 'CP-2024-0042'")
        try p.tamper("DELETE FROM moves")
        expectIntegrity("the moves of 'Notes' of CP-2024-0042") { _ = try p.read("CP-2024-0042", "Notes") }
    }
}

/// Issue 9, item 4: confidentiality by policy, not by the filer's memory.
@Suite struct ConfidentialityPolicyTests {
    @Test func policyTypesGoConfidentialWhoeverFilesThemAndAdminsSetTheList() throws {
        let p = try Programme()
        try p.openCase()
        #expect(try p.vault.confidentialTypes().types == Policy.defaultConfidentialTypes)
        // A PDF of a medical report, no --confidential: confidential by the defaults.
        let pdf = Array("%PDF-1.7 medical report".utf8)
        #expect(try p.file(pdf, name: "Medical report", type: "medical").tier == .confidential)
        #expect(try p.file(Array("notes".utf8), name: "Notes", type: "report").tier == .team)
        #expect(throws: VaultError.self) { _ = try p.read("CP-2024-0042", "Medical report", by: "dora") }  // team tier only
        // Only an admin sets the list; it replaces the defaults.
        for id in ["halima", "dora", "grace"] {
            #expect(throws: VaultError.self) { try p.vault.setConfidentialTypes(["report"], by: p[id]) }
        }
        try p.vault.setConfidentialTypes(["report", "medical", "report"], by: p["amina"])
        #expect(try p.vault.confidentialTypes().types == ["medical", "report"])
        #expect(try p.vault.confidentialTypes().setBy == "amina")
        #expect(try p.file(Array("more notes".utf8), name: "Notes 2", type: "report").tier == .confidential)
        #expect(try p.file(Array("letter".utf8), name: "Legal letter", type: "legal").tier == .team)  // no longer listed
        #expect(try p.vault.verify().isClean)
    }

    /// A filer who signs a team-tier filing of a listed type around the
    /// command is refused; the policy row edited by hand is caught.
    @Test func thePolicyHoldsInTheLogAndTheCatalog() throws {
        let p = try Programme()
        try p.openCase()
        try p.file(Array("x".utf8), name: "Other", type: "report")
        let filed = try #require(try p.vault.store.read { try $0.versions(caseNumber: "CP-2024-0042", document: "Other") }.first)
        let old = filed.stamp
        let stamp = Stamp(date: old.date, caseNumber: old.caseNumber, caseStatus: old.caseStatus, report: "Medical",
                          caseManager: old.caseManager, caseSupervisor: old.caseSupervisor, version: 1, filedBy: old.filedBy,
                          filedByName: old.filedByName)
        let forged = VersionFiled(case: "CP-2024-0042", document: "Medical", version: 1, type: "medical", tier: "team",
                                  object: filed.objectId, size: filed.size, ciphertextSize: filed.ciphertextSize,
                                  sealedFileKeyHash: filed.sealedFileKeyHash, stamp: stamp, schema: nil)
        expectIntegrity("confidential by the vault's policy") {
            _ = try p.vault.write { writer, head in
                try Ledger.append([.versionFiled(forged)], by: p["farah"], at: Date(), vaultID: p.vault.config.vaultId, head: &head, in: writer)
            }
        }
        expectIntegrity("breaks the rules") {
            _ = try p.vault.write { writer, head in
                try Ledger.append([.confidentialTypesSet(ConfidentialTypesSet(types: []))], by: p["dora"], at: Date(),
                                  vaultID: p.vault.config.vaultId, head: &head, in: writer)
            }
        }
        try p.vault.setConfidentialTypes(["medical"], by: p["amina"])
        try p.tamper("UPDATE vault_policies SET value = '[]'")
        expectIntegrity("confidential-types policy") { _ = try p.file(Array("y".utf8), name: "Medical", type: "medical") }
        #expect(try p.vault.verify().findings.contains { $0.kind == .rowChanged && $0.subject == "vault policies confidential-types" })
    }
}

/// The review's attacks on moves (issue 9, item 3).
@Suite struct MoveAttackTests {
    /// A manager of another case signs, by hand, a version in this case
    /// naming a real document's sealed file key and object. verify names
    /// the shared blob; an honest move of the forgery is refused (the key
    /// does not open the forgery's object under its own associated data),
    /// so the real document's key neither leaves nor is erased.
    @Test func aForgedVersionSharingAnotherSealedKeyIsCaughtAndCannotBeMoved() throws {
        let p = try Programme()
        try p.openCase()
        try p.openCase(client: 43, manager: "joseph")
        try p.file(Array("the real document".utf8), name: "Other")
        let real = try #require(try p.vault.store.read { try $0.versions(caseNumber: "CP-2024-0042", document: "Other") }.first)
        let joseph = p["joseph"]
        let now = Date()
        let stamp = Stamp(date: Stamp.dateString(now, in: .gmt), caseNumber: "CP-2024-0042", caseStatus: .open, report: "Copy",
                          caseManager: real.stamp.caseManager, caseSupervisor: real.stamp.caseSupervisor, version: 1,
                          filedBy: "joseph", filedByName: "Joseph Mwangi")
        let forged = VersionFiled(case: "CP-2024-0042", document: "Copy", version: 1, type: "report", tier: real.tier,
                                  object: real.objectId, size: real.size, ciphertextSize: real.ciphertextSize,
                                  sealedFileKeyHash: real.sealedFileKeyHash, stamp: stamp, schema: nil)
        // Format 2 refuses it as it is signed: the sealed key is another record's.
        expectIntegrity("the sealed file key hash names a blob another record names") {
            _ = try p.vault.write { writer, head in
                try Ledger.append([.versionFiled(forged)], by: joseph, at: now, vaultID: p.vault.config.vaultId, head: &head, in: writer)
            }
        }
        #expect(throws: VaultError.self) {
            try p.vault.moveDocument(caseNumber: "CP-2024-0042", document: "Copy", to: "CP-2024-0043", reason: "tidy", by: p["grace"])
        }
        #expect(try p.read("CP-2024-0042", "Other") == Array("the real document".utf8))
        #expect(try p.vault.verify().isClean)
    }

    /// A move must seal anew: the same hash twice, or an old one, is refused.
    @Test func aMoveNamingOldOrRepeatedSealedKeysIsRefused() throws {
        let p = try Programme()
        try p.openCase()
        try p.openCase(client: 43, manager: "joseph")
        try p.file(Array("one".utf8), name: "Notes")
        try p.file(Array("two".utf8), name: "Notes")
        let old = try p.vault.store.read { try $0.versions(caseNumber: "CP-2024-0042", document: "Notes") }.map(\.sealedFileKeyHash)
        let fresh = String(repeating: "cd", count: 32)
        for (hashes, fragment) in [([fresh, fresh], "a new sealed file key for each version"),
                                   ([old[0], fresh], "names a blob another record names")] {
            let data = DocumentMoved(case: "CP-2024-0042", document: "Notes", to: "CP-2024-0043", toDocument: "Notes", reason: "x",
                                     versions: hashes.enumerated().map { .init(version: $0.offset + 1, sealedFileKeyHash: $0.element) })
            expectIntegrity(fragment) {
                _ = try p.vault.write { writer, head in
                    try Ledger.append([.documentMoved(data)], by: p["grace"], at: Date(), vaultID: p.vault.config.vaultId, head: &head, in: writer)
                }
            }
        }
    }

    /// A state-map row deleted by hand next to a key a move removes: the
    /// move is refused rather than signing a root the log does not give.
    @Test func aDeletedSiblingRowStopsTheMoveBeforeItSigns() throws {
        let p = try Programme()
        try p.openCase()
        try p.openCase(client: 43, manager: "joseph")
        try p.file(Array("one".utf8), name: "Notes")
        let key = StateMap.keyHash(StateKey.document("CP-2024-0042", "Notes"))
        let depth = try p.vault.read { reader, head in try StateMap.walk(key, root: head.stateRoot!, in: StateNodes(reader: reader)).depth }
        let sibling = StateMap.path(key, depth: depth).flippingLastBit(atDepth: depth)
        try attack(p.vault, "DELETE FROM state_nodes WHERE path = ?", arguments: [StoredStatePath.encode(sibling)])
        let before = try p.vault.store.read { try $0.lastEventSeq() }
        expectIntegrity("state map") {
            try p.vault.moveDocument(caseNumber: "CP-2024-0042", document: "Notes", to: "CP-2024-0043", reason: "x", by: p["grace"])
        }
        #expect(try p.vault.store.read { try $0.lastEventSeq() } == before)
    }
}

extension Array where Element == UInt8 {
    /// A state-map path (two bytes of depth, then the bits) with its last
    /// bit, bit `depth − 1`, flipped: the sibling's position.
    func flippingLastBit(atDepth depth: Int) -> [UInt8] {
        var out = self
        let bit = depth - 1
        out[2 + (bit >> 3)] ^= 0x80 >> UInt8(bit & 7)
        return out
    }
}
