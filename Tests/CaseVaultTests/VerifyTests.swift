@testable import CaseVault
import CaseVaultCrypto
import CaseVaultSQLite
import Foundation
import GRDB
import Testing

/// An office with a case, three filings (one confidential) and reads: the
/// vault `verify` is run against, before and after one change each.
private func busyOffice() throws -> Office {
    let office = try Office()
    try office.openCase()
    try office.file("first notes")
    try office.file("second notes")
    try office.file("a confidential statement", name: "Statement", confidential: true)
    _ = try office.read()
    _ = try office.read("Statement", by: "halima")
    return office
}

@Suite struct VerifyTests {
    @Test func aVaultLeftAloneIsClean() throws {
        let office = try busyOffice()
        let report = try office.verify(checkpoint: nil)
        #expect(report.isClean, "\(report.findings)")
        #expect(report.notes.isEmpty)
        #expect(report.versions == 3)
        let read = try office.open("x").verify(VerifyOptions(readData: .all))
        #expect(read.isClean && read.objectsRead == 3)
    }

    /// One tampering → its own finding.
    @Test(arguments: [
        ("a flipped object byte", Finding.Kind.objectAltered),
        ("a deleted object", .objectMissing),
        ("an edited status", .rowChanged),
        ("an edited manager", .rowChanged),
        ("an edited tier", .rowChanged),
        ("a deleted event", .eventMissing),
        ("two events swapped", .eventOutOfPlace),
        ("an event re-signed by another member", .badSignature),
        ("a grant added by hand", .rowAdded),
        ("a blob swapped", .blobAltered),
        ("the log truncated below a checkpoint", .checkpointNotExtended),
        ("an event row below 1", .eventOutOfPlace),
        ("a stray log node", .logNodeDiffers),
        ("a log node altered", .logNodeDiffers),
    ])
    func eachTamperingIsItsOwnFinding(what: String, kind: Finding.Kind) throws {
        let office = try busyOffice()
        let checkpoint = try tamper(office, what)
        let report = try office.verify(checkpoint: checkpoint)
        var options = Vault.OpenOptions(checkpoint: checkpoint)
        options.checksOnOpen = false
        let withData = try Vault.open(at: office.path, options: options).verify(VerifyOptions(readData: .all))
        #expect(!withData.isClean, "\(what)")
        #expect(withData.findings.contains { $0.kind == kind }, "\(what): \(withData.findings)")
        if kind != .objectAltered { #expect(report.findings.contains { $0.kind == kind }, "\(what): \(report.findings)") }
    }

    /// verify reads, checks and applies the log in batches on three threads
    /// (`Verifier.replayLog`): batches of two or three events, many more
    /// hand-overs than the default size makes, find exactly the same.
    @Test(arguments: ["nothing", "a deleted event", "two events swapped", "an event re-signed by another member",
                      "a grant added by hand", "a blob swapped", "the log truncated below a checkpoint", "an event row below 1",
                      "a stray log node", "a log node altered"])
    func batchesOfAnySizeFindTheSame(what: String) throws {
        let office = try busyOffice()
        let checkpoint = what == "nothing" ? nil : try tamper(office, what)
        var options = Vault.OpenOptions(checkpoint: checkpoint)
        options.checksOnOpen = false
        let vault = try Vault.open(at: office.path, options: options)
        let whole = try vault.verify()
        #expect(whole.isClean == (what == "nothing"), "\(what): \(whole.findings)")
        for size in [1, 2, 3] {
            var small = VerifyOptions()
            small.batchSize = size
            let report = try vault.verify(small)
            #expect(report.findings == whole.findings && report.notes == whole.notes, "\(what), batches of \(size)")
            #expect(report.events == whole.events && report.rootHex == whole.rootHex && report.versions == whole.versions)
        }
    }

    /// A row verify cannot even read (a number where an event's signed body
    /// belongs) stops it with an integrity failure in whichever batch it
    /// falls: the reading thread's error reaches the caller, and the replay
    /// thread is stopped and joined, not left waiting (the test would hang).
    @Test func anUnreadableEventRowStopsVerifyWithAnIntegrityFailure() throws {
        let office = try busyOffice()
        try office.sql("UPDATE events SET body = 12345 WHERE seq = 12")
        var options = Vault.OpenOptions(checkpoint: nil)
        options.checksOnOpen = false
        let vault = try Vault.open(at: office.path, options: options)
        for size in [2, 3, 5, 2_048] {
            var small = VerifyOptions()
            small.batchSize = size
            expectIntegrity("column body holds a value of the wrong type") { _ = try vault.verify(small) }
        }
        // (Four runs on one open vault: a run that left a thread or the
        // snapshot behind would stall the next.)
    }

    /// Changes `office`'s vault as `what` says; returns the checkpoint taken first, if any.
    private func tamper(_ office: Office, _ what: String) throws -> Checkpoint? {
        let vault = try office.open("x")
        let versions = try vault.versions(caseNumber: "CP-2024-0042")
        var checkpoint: Checkpoint?
        switch what {
        case "a flipped object byte":
            let path = vault.objects.path(of: ObjectID(hex: versions[0].objectID)!)
            chmod(path, 0o600)
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            bytes[40] ^= 0x10
            try bytes.write(to: URL(fileURLWithPath: path))
        case "a deleted object":
            try FileManager.default.removeItem(atPath: vault.objects.path(of: ObjectID(hex: versions[1].objectID)!))
        case "an edited status": try office.sql("UPDATE cases SET status = 'C'")
        case "an edited manager": try office.sql("UPDATE cases SET manager_id = 'joseph'")
        case "an edited tier": try office.sql("UPDATE versions SET tier = 'team' WHERE document = 'Statement'")
        case "a deleted event": try office.sql("DELETE FROM events WHERE seq = 12")
        case "two events swapped":
            try office.sql("""
                UPDATE events SET seq = CASE seq WHEN 20 THEN -21 WHEN 21 THEN -20 END WHERE seq IN (20, 21);
                UPDATE events SET seq = -seq WHERE seq < 0;
                """)
        case "an event re-signed by another member":
            // Dora signs a copy of Grace's read with her own key, under Grace's name.
            let dora = try vault.unlock(staffID: "dora", passphrase: try office.scratch.passphrase("dora passphrase!"))
            let body: Data = try office.rows("SELECT body FROM events WHERE type = 'content.read' AND actor = 'grace'")[0][0]
            try office.sql("UPDATE events SET signature = ? WHERE type = 'content.read' AND actor = 'grace'",
                           [Data(dora.signingKeys.sign(Array("casevault-event-v1\n".utf8) + Array(body)))])
        case "a grant added by hand":
            try office.sql("INSERT INTO grants SELECT case_number, 'confidential', 'staff:dora', holder_public_key, sealed_key_hash, granted_seq, 1 FROM grants WHERE holder = 'staff:dora'")
        case "a blob swapped":
            try office.sql("UPDATE blobs SET bytes = (SELECT bytes FROM blobs b2 WHERE b2.hash = (SELECT sealed_file_key_hash FROM versions WHERE version = 1 AND document = 'Notes')) WHERE hash = (SELECT sealed_file_key_hash FROM versions WHERE version = 2)")
        case "the log truncated below a checkpoint":
            checkpoint = try office.act("peter") { vault, peter in try vault.checkpoint(signedBy: peter) }
            let last: Int64 = try office.rows("SELECT MAX(seq) FROM events")[0][0]
            try office.sql("DELETE FROM events WHERE seq > ?", [last - 3])
            try office.rebuildLogNodes()
        case "an event row below 1":
            try office.sql("INSERT INTO events SELECT 0, type, actor, at, body, signature, leaf_hash FROM events WHERE seq = 5")
        case "a stray log node":
            try office.sql("INSERT INTO log_nodes VALUES (9, 0, zeroblob(32))")
        case "a log node altered":
            try office.sql("UPDATE log_nodes SET hash = zeroblob(32) WHERE level = 2 AND idx = 1")
        default: Issue.record("unknown tampering \(what)")
        }
        return checkpoint
    }

    /// A name respelled in another Unicode form is another name to SQLite
    /// and to a decoder: verify says so, though Swift calls them equal.
    @Test func aNameRespelledInAnotherUnicodeFormIsFound() throws {
        let office = try Office()
        try office.openCase()
        try office.file("notes", name: "Caf\u{E9} visit")
        try office.sql("UPDATE documents SET name = ?", ["Cafe\u{301} visit"])
        try office.sql("UPDATE versions SET document = ?", ["Cafe\u{301} visit"])
        let report = try office.verify()
        #expect(report.findings.contains { $0.kind == .rowAdded && $0.subject.hasPrefix("documents CP-2024-0042") })
        #expect(report.findings.contains { $0.kind == .rowMissing && $0.subject.hasPrefix("versions CP-2024-0042") })
        expectIntegrity("is in the signed log but missing from the catalog") { _ = try office.read("Caf\u{E9} visit") }
    }

    @Test func theReportNamesWhatDiffers() throws {
        let office = try busyOffice()
        try office.sql("UPDATE cases SET manager_id = 'joseph', status = 'IA'")
        let report = try office.verify()
        let finding = try #require(report.findings.first { $0.kind == .rowChanged })
        #expect(finding.subject == "cases CP-2024-0042")
        #expect(finding.detail == "manager, status differ from the signed log")
    }

    @Test func aSubsetOfTheDataIsRead() throws {
        let office = try busyOffice()
        let none = try office.open("x").verify(VerifyOptions(readData: .subset(percent: 0)))
        let some = try office.open("x").verify(VerifyOptions(readData: .subset(percent: 34)))
        #expect(none.objectsRead == 0 && some.objectsRead == 2)
    }
}

/// Rebuilding the catalog from the events and the blobs they name gives the
/// live catalog exactly (design §2, "one writer").
@Suite struct ReplayTests {
    static func compare(_ vault: Vault) throws -> [CatalogComparison.Difference] {
        let rebuilt = MemoryCatalogStore()
        try Replay.rebuild(from: vault.store, into: rebuilt)
        return try vault.store.read { live in try rebuilt.read { try CatalogComparison.differences(live: live, replayed: $0) } }
    }

    @Test func aBusyVaultRebuildsExactlyIntoAnotherStore() throws {
        let office = try busyOffice()
        try office.act("dora") { vault, dora in
            _ = try vault.addSchema(Array(try Data(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../../Schemas/forms/referral.schema.json").standardized)), by: dora)
        }
        try office.act("grace") { vault, grace in try vault.changePassphrase(of: grace, to: try office.scratch.passphrase("grace's second passphrase")) }
        let vault = try office.open("x")
        #expect(try Self.compare(vault).isEmpty)
        // Also into an empty SQLite catalog, blobs included.
        let copy = try SQLiteCatalogStore.create(path: office.scratch.file("rebuilt.sqlite"))
        try Replay.rebuild(from: vault.store, into: copy)
        let differences = try vault.store.read { live in try copy.read { try CatalogComparison.differences(live: live, replayed: $0) } }
        #expect(differences.isEmpty, "\(differences)")
        #expect(try copy.read { try $0.blobHashes() } == vault.store.read { try $0.blobHashes() })
        // And a row edited by hand is exactly what the comparison shows.
        try office.sql("UPDATE documents SET confidential = 0 WHERE name = 'Statement'")
        #expect(try Self.compare(try office.open("x")).map(\.description) == ["documents row CP-2024-0042 'Statement' differs in confidential"])
    }
}
