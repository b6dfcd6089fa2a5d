@testable import CaseVault
import CaseVaultSQLite
import Foundation
import Testing

/// The catalog port's contract, run against every implementation: SQLite
/// (the vault's) and memory (verify's scratch catalog). A PostgreSQL store
/// joins the argument list and must pass the same.
@Suite struct CatalogStoreSuite {
    enum Kind: String, CaseIterable, CustomTestStringConvertible {
        case sqlite, memory
        var testDescription: String { rawValue }
    }

    final class Fixture {
        let scratch = Scratch()
        let store: any CatalogStore
        init(_ kind: Kind) throws {
            switch kind {
            case .sqlite: store = try SQLiteCatalogStore.create(path: scratch.file("catalog.sqlite"))
            case .memory: store = MemoryCatalogStore()
            }
        }
    }

    static func event(_ seq: Int64) -> EventRecord {
        EventRecord(seq: seq, type: "content.read", actor: "grace", at: "2026-12-03T08:00:00Z", body: Array("{\"seq\":\(seq)}".utf8),
                    signature: [UInt8](repeating: UInt8(seq & 0xff), count: 64), leafHash: [UInt8](repeating: 1, count: 32))
    }

    static let stamp = Stamp(date: "2026-12-03T11:00:00+03:00", caseNumber: "CP-2024-0042", caseStatus: .open, report: "Intake form",
                             caseManager: "Grace Otieno", caseSupervisor: "Halima Abdi", version: 1, filedBy: "farah", filedByName: "Farah Nasser")

    static func caseRecord(_ number: String, client: Int, status: String = "O", manager: String = "grace") -> CaseRecord {
        let parts = number.split(separator: "-")
        return CaseRecord(number: number, category: String(parts[0]), year: Int(parts[1])!, clientNumber: client, status: status,
                   manager: manager, supervisor: "halima", teamPublicKey: String(repeating: "ab", count: 32),
                   confidentialPublicKey: String(repeating: "cd", count: 32), openedAt: "2026-12-03T08:00:00Z", openedBy: "halima", openedSeq: 7)
    }

    @Test(arguments: Kind.allCases)
    func eventsAppendInOrderAndReadBackByRange(kind: Kind) throws {
        let store = try Fixture(kind).store
        #expect(try store.read { try $0.lastEventSeq() } == 0)
        try store.write { (writer) throws in for seq in 1...5 { try writer.appendEvent(Self.event(Int64(seq))) } }
        try store.read { (reader) throws in
            #expect(try reader.lastEventSeq() == 5)
            #expect(try reader.eventCount() == 5)
            #expect(try reader.event(seq: 3) == Self.event(3))
            #expect(try reader.event(seq: 6) == nil)
            var seen: [Int64] = []
            try reader.forEachEvent(in: 2...4) { seen.append($0.seq); return true }
            #expect(seen == [2, 3, 4])
            seen = []
            try reader.forEachEvent(in: 1...5) { seen.append($0.seq); return $0.seq < 2 }
            #expect(seen == [1, 2])
        }
        // A sequence number is never taken twice.
        #expect(throws: (any Error).self) { try store.write { try $0.appendEvent(Self.event(5)) } }
    }

    @Test(arguments: Kind.allCases)
    func aFailedTransactionLeavesNothing(kind: Kind) throws {
        let store = try Fixture(kind).store
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try store.write { (writer) throws in
                try writer.appendEvent(Self.event(1))
                try writer.putBlob(hash: "aa", bytes: [1, 2, 3])
                try writer.putCase(Self.caseRecord("CP-2024-0042", client: 42))
                throw Stop()
            }
        }
        try store.read { (reader) throws in
            #expect(try reader.lastEventSeq() == 0)
            #expect(try reader.blob(hash: "aa") == nil)
            #expect(try reader.caseRecord(number: "CP-2024-0042") == nil)
        }
    }

    @Test(arguments: Kind.allCases)
    func nodesAndBlobsAreKeptByTheirKeys(kind: Kind) throws {
        let store = try Fixture(kind).store
        let node = StateNode(path: [0, 3, 0xa0], kind: .inner, hash: [UInt8](repeating: 3, count: 32),
                             first: [UInt8](repeating: 4, count: 32), second: [UInt8](repeating: 5, count: 32))
        try store.write { (writer) throws in
            try writer.putLogNode(level: 2, index: 7, hash: [9, 9])
            try writer.putStateNode(node)
            try writer.putBlob(hash: "bb", bytes: [1])
            try writer.putBlob(hash: "bb", bytes: [1])  // the same again: a no-op
            try writer.putBlob(hash: "dd", bytes: [6, 6])
            try writer.putBlob(hash: "dd", bytes: [4])  // other bytes under a hash: a damaged copy, replaced
            try writer.putBlob(hash: "cc", bytes: [2])
            try writer.deleteBlob(hash: "cc")
        }
        try store.read { (reader) throws in
            #expect(try reader.logNode(level: 2, index: 7) == [9, 9])
            #expect(try reader.logNode(level: 2, index: 8) == nil)
            #expect(try reader.stateNode(path: [0, 3, 0xa0]) == node)
            #expect(try reader.stateNode(path: [0, 3]) == nil)
            #expect(try reader.stateNodeCount() == 1)
            #expect(try reader.blob(hash: "bb") == [1])
            #expect(try reader.blob(hash: "dd") == [4])
            #expect(try reader.blobHashes() == ["bb", "dd"])
        }
    }

    @Test(arguments: Kind.allCases)
    func recordsRoundTripAndListInTheirOrder(kind: Kind) throws {
        let store = try Fixture(kind).store
        let settings = VaultSettingsRecord(vaultId: "267ef8f8-bb8f-4955-8fbe-b1e63fb3303b", formatVersion: 2, createdAt: "2026-12-03T08:00:00Z",
                                           kdf: .init(algorithm: "argon2id13", opsLimit: 3, memLimit: 268_435_456), insecureTestingKDF: false,
                                           recoveryPublicKey: nil, caseCategories: ["CP", "GBV"], teamTierRoles: ["project-director"], eventSeq: 1)
        let grace = StaffRecord(id: "grace", name: "Grace Otieno", role: "case-manager", boxPublicKey: String(repeating: "01", count: 32),
                                signingPublicKey: String(repeating: "02", count: 32), wrappedKeysHash: String(repeating: "03", count: 32),
                                addedAt: "2026-12-03T08:00:00Z", addedBy: "amina", addedSeq: 3, keysSeq: 3)
        let amina = StaffRecord(id: "amina", name: "Amina Yusuf", role: "admin", boxPublicKey: String(repeating: "04", count: 32),
                                signingPublicKey: String(repeating: "05", count: 32), wrappedKeysHash: String(repeating: "06", count: 32),
                                addedAt: "2026-12-03T08:00:00Z", addedBy: nil, addedSeq: 2, keysSeq: 2)
        let grants = [GrantRecord(caseNumber: "CP-2024-0042", tier: "team", holder: "staff:grace", holderPublicKey: grace.boxPublicKey,
                                  sealedKeyHash: "0a", grantedSeq: 8),
                      GrantRecord(caseNumber: "CP-2024-0042", tier: "confidential", holder: "recovery",
                                  holderPublicKey: String(repeating: "07", count: 32), sealedKeyHash: "0b", grantedSeq: 9)]
        let version = VersionRecord(caseNumber: "CP-2024-0042", document: "Intake form", version: 1, type: "intake", tier: "team",
                                    objectId: String(repeating: "e", count: 64), size: 10, ciphertextSize: 51, sealedFileKeyHash: "0c",
                                    stamp: Self.stamp, filedSeq: 11, schemaId: "https://example/intake", schemaVersion: nil, schemaBodyHash: "0d")
        let schema = SchemaRecord(formType: "intake", version: 1, schemaId: "https://example/intake", title: "Intake form", bodyHash: "0e",
                                  addedAt: "2026-12-03T08:00:00Z", addedBy: "dora", addedSeq: 12)
        try store.write { (writer) throws in
            try writer.putVaultSettings(settings)
            try writer.putStaff(grace)
            try writer.putStaff(amina)
            try writer.putCase(Self.caseRecord("UASC-2025-0043", client: 43))
            try writer.putCase(Self.caseRecord("CP-2024-0042", client: 42))
            try writer.putCase(Self.caseRecord("CP-2023-0044", client: 44, status: "C", manager: "joseph"))
            for grant in grants { try writer.putGrant(grant) }
            try writer.putDocument(DocumentRecord(caseNumber: "CP-2024-0042", name: "Intake form", type: "intake", isForm: true,
                                                  latestVersion: 1, confidential: false))
            try writer.putDocument(DocumentRecord(caseNumber: "CP-2024-0042", name: "A photo", type: "photo", isForm: false,
                                                  latestVersion: 3, confidential: true))
            try writer.putVersion(version)
            try writer.putSchema(schema)
        }
        try store.read { (reader) throws in
            #expect(try reader.vaultSettings() == settings)
            #expect(try reader.staff(id: "grace") == grace)
            #expect(try reader.allStaff().map(\.id) == ["amina", "grace"])
            #expect(try reader.cases(matching: CaseQuery()).map(\.number) == ["CP-2023-0044", "CP-2024-0042", "UASC-2025-0043"])
            #expect(try reader.cases(matching: CaseQuery(status: "O")).map(\.number) == ["CP-2024-0042", "UASC-2025-0043"])
            #expect(try reader.cases(matching: CaseQuery(year: 2023)).map(\.number) == ["CP-2023-0044"])
            #expect(try reader.cases(matching: CaseQuery(numberPrefix: "CP-202")).map(\.number) == ["CP-2023-0044", "CP-2024-0042"])
            #expect(try reader.cases(matching: CaseQuery(numberPrefix: "CP-2024-0042")).map(\.number) == ["CP-2024-0042"])
            #expect(try reader.cases(matching: CaseQuery(numberPrefix: "cp-")).isEmpty)  // bytes, not case-folded
            #expect(try reader.cases(matching: CaseQuery(numberPrefix: "CP-2024-0042\u{0}X")).isEmpty)  // a NUL is no prefix of a number
            #expect(try reader.cases(matching: CaseQuery(numberPrefix: "CP-2024-004~")).isEmpty)  // the range's top byte (0x7F)
            #expect(try reader.cases(matching: CaseQuery(numberPrefix: "UASC")).map(\.number) == ["UASC-2025-0043"])
            #expect(try reader.cases(matching: CaseQuery(numberPrefix: "")).count == 3)
            #expect(try reader.cases(matching: CaseQuery(category: "CP", manager: "grace", year: 2024)).map(\.number) == ["CP-2024-0042"])
            #expect(try reader.caseNumber(client: 43) == "UASC-2025-0043")
            #expect(try reader.highestClientNumber() == 44)
            #expect(try reader.grants(caseNumber: "CP-2024-0042") == grants.reversed())  // tier, then holder
            #expect(try reader.documents(caseNumber: "CP-2024-0042").map(\.name) == ["A photo", "Intake form"])
            #expect(try reader.version(caseNumber: "CP-2024-0042", document: "Intake form", version: 1) == version)
            #expect(try reader.versions(caseNumber: nil, document: nil) == [version])
            #expect(try reader.schemas(formType: "intake") == [schema])
        }
        // Writing a record again replaces it.
        var updated = grace
        updated.wrappedKeysHash = String(repeating: "09", count: 32)
        updated.keysSeq = 20
        try store.write { try $0.putStaff(updated) }
        #expect(try store.read { try $0.staff(id: "grace") } == updated)
    }

    /// Status changes list in event order, per case and across cases; a
    /// case has at most one closure request, replaced by a newer one and
    /// gone once deleted.
    @Test(arguments: Kind.allCases)
    func lifecycleRecordsRoundTrip(kind: Kind) throws {
        let store = try Fixture(kind).store
        let changes = [
            StatusChangeRecord(caseNumber: "CP-2024-0042", seq: 30, from: "IA", to: "C", at: "2026-12-03T09:00:00Z", by: "halima",
                               reason: "child left the country", requestedBy: "grace"),
            StatusChangeRecord(caseNumber: "CP-2024-0042", seq: 12, from: "O", to: "IA", at: "2026-12-01T09:00:00Z", by: "grace",
                               reason: "no contact", requestedBy: nil),
            StatusChangeRecord(caseNumber: "CP-2023-0044", seq: 20, from: "O", to: "AO", at: "2026-12-02T09:00:00Z", by: "halima",
                               reason: "turned 18", requestedBy: nil),
        ]
        let request = ClosureRequestRecord(caseNumber: "CP-2024-0042", seq: 25, at: "2026-12-02T10:00:00Z", requestedBy: "grace",
                                           approver: "halima", reason: "durable solution")
        try store.write { (writer) throws in
            try writer.putCase(Self.caseRecord("CP-2024-0042", client: 42))
            try writer.putCase(Self.caseRecord("CP-2023-0044", client: 44))
            for change in changes { try writer.putStatusChange(change) }
            try writer.putClosureRequest(request)
        }
        try store.read { (reader) throws in
            // In the order applied, not by sequence number: an imported case's
            // earlier changes keep the sending vault's numbers (v19).
            #expect(try reader.statusChanges(caseNumber: "CP-2024-0042") == [changes[0], changes[1]])
            #expect(try reader.statusChanges(caseNumber: nil) == [changes[2], changes[0], changes[1]])
            #expect(try reader.statusChanges(caseNumber: "UASC-2025-0043") == [])
            #expect(try reader.closureRequest(caseNumber: "CP-2024-0042") == request)
            #expect(try reader.closureRequest(caseNumber: "CP-2023-0044") == nil)
        }
        // A number both vaults used: both rows kept, in order.
        let again = StatusChangeRecord(caseNumber: "CP-2024-0042", seq: 12, from: "C", to: "O", at: "2026-12-04T09:00:00Z", by: "halima",
                                       reason: "reopened here", requestedBy: nil)
        try store.write { (writer) throws in try writer.putStatusChange(again) }
        try store.read { (reader) throws in
            #expect(try reader.statusChanges(caseNumber: "CP-2024-0042") == [changes[0], changes[1], again])
        }
        var newer = request
        newer.seq = 28
        newer.reason = "family reunified"
        try store.write { try $0.putClosureRequest(newer) }
        #expect(try store.read { try $0.closureRequests() } == [newer])
        try store.write { try $0.deleteClosureRequest(caseNumber: "CP-2024-0042") }
        #expect(try store.read { try $0.closureRequests() } == [])
    }

    /// Tags list by case and tag; moves by case, document and event; a
    /// document deleted (moved away) takes its versions and withdrawals.
    @Test(arguments: Kind.allCases)
    func tagsMovesAndDeletedDocumentsRoundTrip(kind: Kind) throws {
        let store = try Fixture(kind).store
        let tags = [CaseTagRecord(caseNumber: "CP-2024-0042", tag: "high-risk", seq: 5, at: "2026-12-03T09:00:00Z", by: "dora"),
                    CaseTagRecord(caseNumber: "CP-2024-0042", tag: "case-of-concern", seq: 6, at: "2026-12-03T09:00:00Z", by: "grace")]
        let move = MoveRecord(caseNumber: "CP-2024-0042", document: "Notes", seq: 9, at: "2026-12-03T09:00:00Z", by: "grace",
                              toCase: "CP-2024-0043", toDocument: "Notes", versions: 2, reason: "misfiled")
        var version = VersionRecord(caseNumber: "CP-2024-0042", document: "Notes", version: 1, type: "report", tier: "team",
                                    objectId: String(repeating: "e", count: 64), size: 1, ciphertextSize: 42, sealedFileKeyHash: "0c",
                                    stamp: Self.stamp, filedSeq: 7, schemaId: nil, schemaVersion: nil, schemaBodyHash: nil)
        try store.write { (writer) throws in
            for tag in tags { try writer.putTag(tag) }
            try writer.putDocument(DocumentRecord(caseNumber: "CP-2024-0042", name: "Notes", type: "report", isForm: false,
                                                  latestVersion: 1, confidential: false))
            try writer.putVersion(version)
            try writer.putWithdrawal(WithdrawalRecord(caseNumber: "CP-2024-0042", document: "Notes", version: 1, seq: 8,
                                                      at: "2026-12-03T09:00:00Z", by: "grace", reason: "x"))
        }
        #expect(try store.read { try $0.tags(caseNumber: "CP-2024-0042") } == [tags[1], tags[0]])
        try store.write { (writer) throws in
            try writer.deleteDocument(caseNumber: "CP-2024-0042", name: "Notes")
            try writer.putMove(move)
            try writer.deleteTag(caseNumber: "CP-2024-0042", tag: "high-risk")
            version.caseNumber = "CP-2024-0043"
            version.origin = VersionOrigin(case: "CP-2024-0042", document: "Notes")
            try writer.putVersion(version)
        }
        try store.read { (reader) throws in
            #expect(try reader.document(caseNumber: "CP-2024-0042", name: "Notes") == nil)
            #expect(try reader.versions(caseNumber: "CP-2024-0042", document: nil) == [])
            #expect(try reader.withdrawals(caseNumber: "CP-2024-0042", document: nil) == [])
            #expect(try reader.documentCount(caseNumber: "CP-2024-0042") == 0)
            #expect(try reader.moves(caseNumber: "CP-2024-0042", document: "Notes") == [move])
            #expect(try reader.moves(caseNumber: nil, document: nil) == [move])
            #expect(try reader.tags(caseNumber: nil) == [tags[1]])
            #expect(try reader.versions(caseNumber: "CP-2024-0043", document: "Notes") == [version])
        }
    }

    /// Withdrawals list by case, document (as bytes) and version.
    @Test(arguments: Kind.allCases)
    func withdrawalsRoundTripInTheirOrder(kind: Kind) throws {
        let store = try Fixture(kind).store
        func withdrawal(_ number: String, _ document: String, _ version: Int) -> WithdrawalRecord {
            WithdrawalRecord(caseNumber: number, document: document, version: version, seq: Int64(10 + version),
                             at: "2026-12-03T09:00:00Z", by: "grace", reason: "misfiled")
        }
        let rows = [withdrawal("CP-2024-0042", "b", 3), withdrawal("CP-2024-0042", "a", 2), withdrawal("CP-2024-0042", "b", 1),
                    withdrawal("CP-2023-0044", "z", 1)]
        try store.write { writer in for row in rows { try writer.putWithdrawal(row) } }
        try store.read { (reader) throws in
            #expect(try reader.withdrawals(caseNumber: "CP-2024-0042", document: "b") == [rows[2], rows[0]])
            #expect(try reader.withdrawals(caseNumber: "CP-2024-0042", document: nil) == [rows[1], rows[2], rows[0]])
            #expect(try reader.withdrawals(caseNumber: nil, document: nil) == [rows[3], rows[1], rows[2], rows[0]])
            #expect(try reader.withdrawals(caseNumber: "CP-2024-0042", document: "c") == [])
        }
    }

    /// Names are bytes, as SQLite compares them: "Café" precomposed and
    /// decomposed are two documents, in byte order, each found only by its
    /// own bytes; the counts agree.
    @Test(arguments: Kind.allCases)
    func namesAreComparedAndSortedAsBytes(kind: Kind) throws {
        let store = try Fixture(kind).store
        let composed = "Caf\u{E9}", decomposed = "Cafe\u{301}"
        func document(_ name: String, _ latest: Int) -> DocumentRecord {
            DocumentRecord(caseNumber: "CP-2024-0042", name: name, type: "report", isForm: false, latestVersion: latest, confidential: false)
        }
        try store.write { (writer) throws in
            try writer.putDocument(document(composed, 1))
            try writer.putDocument(document(decomposed, 2))
            try writer.putDocument(document("Zebra", 3))
        }
        try store.read { (reader) throws in
            #expect(try reader.documentCount(caseNumber: "CP-2024-0042") == 3)
            #expect(try reader.documents(caseNumber: "CP-2024-0042").map { Array($0.name.utf8) }
                    == [decomposed, composed, "Zebra"].map { Array($0.utf8) }.sorted { $0.lexicographicallyPrecedes($1) })
            #expect(try reader.document(caseNumber: "CP-2024-0042", name: composed)?.latestVersion == 1)
            #expect(try reader.document(caseNumber: "CP-2024-0042", name: decomposed)?.latestVersion == 2)
        }
    }
}
